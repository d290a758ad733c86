from convobase.cli import main

main()
