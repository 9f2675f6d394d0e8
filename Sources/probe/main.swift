import Glibc
import NamespaceProbe
import IsolationSelector
import IsolationLauncher

/// Entry point: parse, probe (or load), select, render, write. Probing happens before
/// anything could start a thread (user namespaces refuse multi-threaded callers).
func runProbe() -> Int32 {
    let options: Options
    do {
        options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        Console.error("probe: \(error)")
        return 2
    }
    if options.showHelp { print(Options.help); return 0 }
    if options.showVersion { print("namespace-probe \(Report.toolVersion) (report schema \(Report.schemaVersion))"); return 0 }

    do {
        if let files = options.matrixFiles, let verified = try IsolationMatrix.load(files) {
            let text = options.format == .json ? IsolationMatrix.json(verified).serialized() + "\n" : IsolationMatrix.markdown(verified)
            try Console.emit(text, to: options.outputPath)
            return 0
        }
        if let files = options.matrixFiles {
            let reports = try files.map { try ReportFile.load($0) }
            let text = options.format == .json ? MatrixRenderer.mergedJSON(reports).serialized() + "\n"
                : MatrixRenderer.mergedMarkdown(reports)
            try Console.emit(text, to: options.outputPath)
            return 0
        }
        let report = try options.fromReport.map(ReportFile.load)?.report ?? Prober.run(ProbeOptions(timeoutMillis: options.timeoutMillis))
        let selection = Selector.select(report, excluding: options.exclude)
        let style = Style(enabled: options.color ?? Console.wantsColor(outputPath: options.outputPath))
        let text: String
        if options.selectOnly {
            text = selection.chosen.name + "\n"
        } else {
            switch options.format {
            case .human: text = HumanRenderer(report: report, selection: selection, style: style).render()
            case .matrix: text = MatrixRenderer.hostMatrix(report, selection, style)
            case .json: text = SelectionJSON.reportWithSelection(report, selection).serialized() + "\n"
            case .env: text = EnvRenderer.render(selection)
            case .nfd: text = NFDRenderer.render(report, selection)
            case .prometheus: text = PrometheusRenderer.render(report, selection)
            }
        }
        try Console.emit(text, to: options.outputPath)
        if let required = options.require, selection.chosen < required {
            Console.error("probe: required \(required.name) but the strongest available backend is \(selection.chosen.name): \(selection.requirementReason(required))")
            return 3
        }
        return 0
    } catch let e as UsageError {
        Console.error("probe: \(e)")
        return 2
    } catch {
        Console.error("probe: \(error)")
        return 1
    }
}

/// Subcommands are dispatched on the first argument; everything else is the probe itself.
func runCommand(_ args: [String]) -> Int32 {
    switch args.first {
    case "launch": return LaunchCommand.run(Array(args.dropFirst()))
    case "verify": return VerifyCommand.run(Array(args.dropFirst()))
    case "policy": return PolicyCommand.run(Array(args.dropFirst()))
    default: return runProbe()
    }
}

exit(runCommand(Array(CommandLine.arguments.dropFirst())))
