// Reads a solc standard-JSON input on stdin, writes the compiler's output on stdout.
// Uses the pinned solc-js build so that no native compiler is needed.
const solc = require("solc");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(input));
});
