from aftm_gateway.app import main

raise SystemExit(main())
