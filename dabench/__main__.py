from dabench.cli import main

main()
