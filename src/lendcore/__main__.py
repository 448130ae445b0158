from lendcore.cli import main

main()
