from connector.cli.main import main

raise SystemExit(main())
