import EvalnetCLI

@main
enum Evalnet {
    static func main() async {
        EvalnetCommand.prepareOutput()
        await EvalnetCommand.main()
    }
}
