import ZooCommands

ZooCommand.main()
