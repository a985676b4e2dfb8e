from aftm_strategy.app import main

raise SystemExit(main())
