import EvalnetCLI

@main
enum Evalnet {
    static func main() async {
        await EvalnetCommand.main()
    }
}
