from signssl.cli.main import main

main()
