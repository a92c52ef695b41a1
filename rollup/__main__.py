from rollup.cli import main

raise SystemExit(main())
