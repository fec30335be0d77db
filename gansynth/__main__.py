from gansynth.cli import main

raise SystemExit(main())
