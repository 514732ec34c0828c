import ZooCommands

ZooCommand.start()
