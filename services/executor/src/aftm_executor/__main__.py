from aftm_executor.app import main

raise SystemExit(main())
