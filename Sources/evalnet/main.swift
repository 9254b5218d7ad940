import EvalnetCLI
await EvalnetCommand.main()
