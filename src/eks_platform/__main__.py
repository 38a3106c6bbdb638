from eks_platform.cli import main

main()
