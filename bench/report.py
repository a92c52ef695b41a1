"""The one output format of every benchmark (DESIGN section 8).

`--json` prints {"bench", "figures", "baselines", "advantage"}; advantage > 1 is better.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class BenchResult:
    bench: str
    figures: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)
    advantage: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def compare(self, name: str, figure: float, baseline: float, higher_is_better: bool = True) -> None:
        """Record a figure, its baseline under the same name, and the advantage ratio."""
        self.figures[name] = figure
        self.baselines[name] = baseline
        if higher_is_better:
            ratio = figure / baseline if baseline else float("inf")
        else:
            ratio = baseline / figure if figure else float("inf")
        self.advantage[name] = round(ratio, 3)

    def to_json(self) -> str:
        return json.dumps(
            {"bench": self.bench, "figures": self.figures, "baselines": self.baselines, "advantage": self.advantage}
        )

    def to_table(self) -> str:
        rows = [f"bench {self.bench}", f"{'figure':<34} {'ours':>14} {'baseline':>14} {'advantage':>10}"]
        for name, value in self.figures.items():
            base = self.baselines.get(name)
            adv = self.advantage.get(name)
            rows.append(
                f"{name:<34} {value:>14,.2f} {'' if base is None else f'{base:,.2f}':>14} "
                f"{'' if adv is None else f'{adv:.2f}x':>10}"
            )
        rows.extend(f"note: {n}" for n in self.notes)
        return "\n".join(rows)
