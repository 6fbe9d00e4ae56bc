from ponder.cli.main import main

main()
