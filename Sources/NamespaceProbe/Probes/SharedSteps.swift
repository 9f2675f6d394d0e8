/// Steps taken once in a child and recorded again in every result that depends on them
/// (unshare(0) for every kind, entering the user namespace for every rootless attempt).
struct SharedSteps {
    private(set) var steps: [(name: String, result: StepResult)] = []

    /// Runs the step live in `w`'s result and remembers it.
    @discardableResult
    mutating func step(_ w: StepWriter, _ name: String, _ body: () -> StepResult) -> Bool {
        var result = StepResult.ok()
        w.step(name) { result = body(); return result }
        steps.append((name, result))
        return result.isOK
    }

    mutating func record(_ w: StepWriter, _ name: String, _ result: StepResult) {
        w.record(name, result)
        steps.append((name, result))
    }

    func replay(into w: StepWriter) {
        for s in steps { w.record(s.name, s.result) }
    }
}
