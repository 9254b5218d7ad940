import Mustache

// The rows the templates repeat answer their fields directly: swift-mustache otherwise builds a
// `Mirror` of the value for every lookup, which dominated the render time of a page.

extension PoolDashboardView.Tile: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "key": key
        case "label": label
        case "value": value
        case "note": note
        case "level": level
        default: nil
        }
    }
}

extension PoolDashboardView.LeaderView: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "rank": rank
        case "hotkey": hotkey
        case "short": short
        case "reputation": reputation
        case "windowReputation": windowReputation
        case "evaluations": evaluations
        case "evolutions": evolutions
        case "lastSeen": lastSeen
        default: nil
        }
    }
}

extension PoolDashboardView.AlertView: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "code": code
        case "severity": severity
        case "message": message
        default: nil
        }
    }
}

extension PoolDashboardView.TaskView: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "name": self.name
        case "sota": sota
        case "sotaChart": sotaChart
        case "consensusChart": consensusChart
        case "consensusLegend": consensusLegend
        default: nil
        }
    }
}

extension PlatformDashboardView.JobView: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "id": id
        case "short": short
        case "challenge": challenge
        case "miner": miner
        case "minerShort": minerShort
        case "validator": validator
        case "status": status
        case "failed": failed
        case "score": score
        case "error": error
        case "time": time
        case "finishedAt": finishedAt
        default: nil
        }
    }
}

extension PlatformDashboardView.WeightView: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "hotkey": hotkey
        case "short": short
        case "weight": weight
        case "percent": percent
        default: nil
        }
    }
}
