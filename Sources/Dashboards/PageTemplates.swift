/// The Mustache templates of the dashboards. `{{x}}` escapes HTML; `{{{x}}}` is used only for
/// SVG and fragments rendered by this module from escaped parts.
enum PageTemplates {
    static let page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>{{title}}</title>
        <style>\(css)</style>
        </head>
        <body data-service="{{service}}" data-refreshes="0">
        <header><h1>{{title}}</h1><span id="live" class="live">live · every {{refreshSeconds}} s</span></header>
        <main id="dash">{{{fragment}}}</main>
        <script>\(script)</script>
        </body>
        </html>

        """

    /// Re-fetches the fragment (`?fragment=1` on the same URL, so a `token` parameter is kept)
    /// and swaps it in; a failed fetch marks the page stale and keeps what it shows.
    static let script = """
        (function () {
          var main = document.getElementById('dash'), live = document.getElementById('live');
          var url = new URL(window.location.href);
          url.searchParams.set('fragment', '1');
          var count = 0;
          function tick() {
            fetch(url.toString(), { cache: 'no-store', credentials: 'same-origin' })
              .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
              .then(function (text) {
                main.innerHTML = text;
                count += 1;
                document.body.setAttribute('data-refreshes', String(count));
                live.textContent = 'live · updated ' + new Date().toLocaleTimeString();
                live.className = 'live';
              })
              .catch(function (e) { live.textContent = 'stale: ' + e.message; live.className = 'live stale'; });
          }
          setInterval(tick, {{refreshMs}});
        })();
        """

    static let css = """
        :root{--bg:#f5f6f8;--fg:#1b1f24;--card:#fff;--mut:#5b6470;--line:#d9dee4;--ok:#1a7f37;--warn:#b26b00;--crit:#c62828;
        --s0:#2563eb;--s1:#d97706;--s2:#dc2626;--s3:#059669;--s4:#7c3aed;--s5:#db2777}
        @media (prefers-color-scheme: dark){:root{--bg:#0f1216;--fg:#e6e8eb;--card:#181c22;--mut:#9aa3ad;--line:#2c333b}}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
        header{display:flex;align-items:center;justify-content:space-between;gap:8px;padding:10px 16px;background:var(--card);
        border-bottom:1px solid var(--line);position:sticky;top:0;z-index:1}
        h1{font-size:18px;margin:0}
        h2{font-size:13px;margin:20px 0 8px;color:var(--mut);text-transform:uppercase;letter-spacing:.05em}
        h3{margin:0 0 8px;font-size:15px;display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
        main{padding:6px 16px 24px;max-width:1200px;margin:0 auto}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px}
        .top{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-top:12px}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}
        .card.warn,.card.sev-warn{border-left:4px solid var(--warn)}
        .card.crit,.card.sev-crit{border-left:4px solid var(--crit)}
        .card.sev-ok{border-left:4px solid var(--ok)}
        .card.wide{margin-bottom:12px}
        .lbl{font-size:12px;color:var(--mut)}
        .val{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
        .note{font-size:12px;color:var(--mut)}
        .sev-ok .val,.sev-ok>b{color:var(--ok)} .sev-warn .val,.sev-warn>b{color:var(--warn)} .sev-crit .val,.sev-crit>b{color:var(--crit)}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:14px}
        figure{margin:0;min-width:0} figcaption{font-size:12px;color:var(--mut);margin-bottom:4px}
        svg.chart{width:100%;height:auto;display:block} .jobs svg.chart{max-width:860px;margin:0 auto}
        svg .axis line{stroke:var(--line)} svg .axis text{fill:var(--mut);font-size:11px}
        svg line.grid{stroke:var(--line);stroke-dasharray:2 3} svg .empty{fill:var(--mut);font-size:13px}
        svg .series path{fill:none;stroke-width:2}
        svg .s0 path{stroke:var(--s0)} svg .s0 circle{fill:var(--s0)} svg .s1 path{stroke:var(--s1)} svg .s1 circle{fill:var(--s1)}
        svg .s2 path{stroke:var(--s2)} svg .s2 circle{fill:var(--s2)} svg .s3 path{stroke:var(--s3)} svg .s3 circle{fill:var(--s3)}
        svg .s4 path{stroke:var(--s4)} svg .s4 circle{fill:var(--s4)} svg .s5 path{stroke:var(--s5)} svg .s5 circle{fill:var(--s5)}
        .lg{white-space:nowrap} .lg i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 8px}
        .lg.s0 i{background:var(--s0)} .lg.s1 i{background:var(--s1)} .lg.s2 i{background:var(--s2)} .lg.s3 i{background:var(--s3)}
        ul.alerts{list-style:none;padding:0;margin:0}
        ul.alerts li{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--warn);border-radius:6px;
        padding:8px 10px;margin-bottom:6px;overflow-wrap:anywhere}
        ul.alerts li.sev-crit{border-left-color:var(--crit)} ul.alerts li.sev-ok{border-left-color:var(--ok)}
        ul.alerts b{text-transform:uppercase;font-size:12px;margin-right:6px}
        p.sev-ok{color:var(--ok);margin:0}
        .scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
        th{font-size:12px;color:var(--mut);font-weight:600} td.num,th.num{text-align:right}
        td.err{white-space:normal;overflow-wrap:anywhere;min-width:160px;color:var(--crit)}
        tr:last-child td{border-bottom:0}
        code{font-size:12px}
        .badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;border:1px solid currentColor}
        .on{color:var(--ok)} .off{color:var(--mut)} .bad{color:var(--crit)}
        .bar{background:var(--line);height:6px;border-radius:3px;min-width:70px} .bar i{display:block;height:6px;border-radius:3px;background:var(--s0)}
        .live{font-size:12px;color:var(--ok)} .live.stale{color:var(--crit)}
        .gen{font-size:12px;color:var(--mut);margin-top:16px}
        @media (max-width:600px){main{padding:4px 8px 16px} .val{font-size:21px} .hide-sm{display:none} header{padding:8px}
        svg .axis text{font-size:14px} svg .series path{stroke-width:3}}
        """

    static let pool = """
        <section class="top">
        <div class="card"><div class="lbl">Window</div><div class="val" data-k="window">{{window}}</div>\
        <div class="note"><span data-k="time_left">{{timeLeft}}</span> left</div></div>
        <div class="card sev-{{overall}}"><div class="lbl">Monitor</div><div class="val" data-k="alerts_overall">{{overall}}</div>\
        <div class="note">alerts overall</div></div>
        </section>
        <h2>Lease pipeline</h2>
        <section class="grid">{{#pipeline}}<div class="card {{level}}"><div class="lbl">{{label}}</div>\
        <div class="val" data-k="{{key}}">{{value}}</div><div class="note">{{note}}</div></div>{{/pipeline}}</section>
        <h2>Candidates and results</h2>
        <section class="grid">{{#candidates}}<div class="card {{level}}"><div class="lbl">{{label}}</div>\
        <div class="val" data-k="{{key}}">{{value}}</div><div class="note">{{note}}</div></div>{{/candidates}}</section>
        <h2>Alerts</h2>
        {{#hasAlerts}}<ul class="alerts" id="alerts">{{#alerts}}<li class="sev-{{severity}}" data-alert="{{code}}" data-severity="{{severity}}">\
        <b>{{severity}}</b>{{message}} <code>{{code}}</code></li>{{/alerts}}</ul>{{/hasAlerts}}
        {{^hasAlerts}}<p class="sev-ok" id="alerts">No alerts.</p>{{/hasAlerts}}
        <h2>SOTA per task</h2>
        {{#tasks}}<div class="card wide" data-task="{{name}}"><h3><span>{{name}}</span>\
        <span>SOTA <span class="val-inline" data-k="sota-{{name}}">{{sota}}</span></span></h3>
        <div class="charts"><figure><figcaption>SOTA at the end of each window</figcaption>{{{sotaChart}}}</figure>
        <figure><figcaption>Consensus scores per window {{{consensusLegend}}}</figcaption>{{{consensusChart}}}</figure></div></div>
        {{/tasks}}
        <h2>Leaderboard <span class="note">(top {{leadersShown}} of <span data-k="leaderboard_total">{{leaderboardTotal}}</span> miners)</span></h2>
        <div class="scroll"><table id="leaderboard"><thead><tr><th class="num">#</th><th>Hotkey</th><th class="num">Reputation</th>\
        <th class="num">This window</th><th class="num">Evaluations</th><th class="num">Evolutions</th><th class="hide-sm">Last seen</th></tr></thead><tbody>
        {{#leaders}}<tr data-hotkey="{{hotkey}}"><td class="num">{{rank}}</td><td><code title="{{hotkey}}">{{short}}</code></td>\
        <td class="num" data-k="reputation">{{reputation}}</td><td class="num" data-k="window_reputation">{{windowReputation}}</td>\
        <td class="num" data-k="evaluations">{{evaluations}}</td><td class="num" data-k="evolutions">{{evolutions}}</td>\
        <td class="hide-sm">{{lastSeen}}</td></tr>
        {{/leaders}}{{^hasLeaders}}<tr><td colspan="7">No miners yet.</td></tr>{{/hasLeaders}}
        </tbody></table></div>
        <p class="gen">generated <span data-k="generated_at">{{generatedAt}}</span> · JSON: /api/v1/monitor/summary, /api/v1/miners/leaderboard</p>

        """

    static let platform = """
        <section class="top">
        <div class="card"><div class="lbl">Challenges</div><div class="val" data-k="challenges">{{challengeCount}}</div>\
        <div class="note">registered</div></div>
        <div class="card {{#anyConnected}}sev-ok{{/anyConnected}}"><div class="lbl">Validators connected</div>\
        <div class="val" data-k="validators_connected">{{connectedCount}}</div><div class="note">of {{validatorCount}} registered (WebSocket)</div></div>
        </section>
        <h2>Jobs by state</h2>
        <section class="grid">{{#states}}<div class="card"><div class="lbl">{{state}}</div><div class="val" data-k="jobs-{{state}}">{{count}}</div></div>\
        {{/states}}</section>
        <div class="card wide jobs" style="margin-top:10px"><figure><figcaption>Jobs per minute, last hour {{{jobsLegend}}}</figcaption>{{{jobsChart}}}</figure></div>
        <h2>Challenges</h2>
        <div class="scroll"><table id="challenges"><thead><tr><th>Name</th><th>Status</th><th class="num">Mechanism</th>\
        <th class="num">Emission share</th><th class="hide-sm">Commit</th></tr></thead><tbody>
        {{#challenges}}<tr data-challenge="{{id}}"><td>{{name}}</td><td><span class="badge {{#active}}on{{/active}}{{^active}}off{{/active}}">{{status}}</span></td>\
        <td class="num">{{mechanism}}</td><td class="num" data-k="share">{{share}}</td><td class="hide-sm"><code>{{commit}}</code></td></tr>
        {{/challenges}}{{^hasChallenges}}<tr><td colspan="5">No challenges yet.</td></tr>{{/hasChallenges}}
        </tbody></table></div>
        <h2>Validators</h2>
        <div class="scroll"><table id="validators"><thead><tr><th>Hotkey</th><th>WebSocket</th><th>Last activity</th>\
        <th class="num">Jobs finished</th><th class="hide-sm">Source</th></tr></thead><tbody>
        {{#validators}}<tr data-validator="{{hotkey}}"><td><code title="{{hotkey}}">{{short}}</code></td>\
        <td>{{#connected}}<span class="badge on" data-k="connected">connected</span>{{/connected}}\
        {{^connected}}<span class="badge off" data-k="connected">offline</span>{{/connected}}</td><td>{{lastActivity}}</td>\
        <td class="num">{{jobsFinished}}</td><td class="hide-sm">{{source}}</td></tr>
        {{/validators}}{{^hasValidators}}<tr><td colspan="5">No validators registered.</td></tr>{{/hasValidators}}
        </tbody></table></div>
        <h2>Recent results and failures</h2>
        <div class="scroll"><table id="recent"><thead><tr><th>Job</th><th>Challenge</th><th>Status</th><th class="num">Score</th>\
        <th>Miner</th><th class="hide-sm">Validator</th><th class="num hide-sm">Time</th><th>Error</th><th class="hide-sm">Finished</th></tr></thead><tbody>
        {{#recent}}<tr data-job="{{id}}" data-status="{{status}}"><td><code title="{{id}}">{{short}}</code></td><td>{{challenge}}</td>\
        <td><span class="badge {{#failed}}bad{{/failed}}{{^failed}}on{{/failed}}">{{status}}</span></td><td class="num" data-k="score">{{score}}</td>\
        <td><code title="{{miner}}">{{minerShort}}</code></td><td class="hide-sm"><code>{{validator}}</code></td>\
        <td class="num hide-sm">{{time}}</td><td class="err">{{error}}</td><td class="hide-sm">{{finishedAt}}</td></tr>
        {{/recent}}{{^hasRecent}}<tr><td colspan="9">No finished jobs yet.</td></tr>{{/hasRecent}}
        </tbody></table></div>
        <h2>Weights per mechanism</h2>
        {{#mechanisms}}<div class="card wide" data-mechanism="{{id}}"><h3><span>Mechanism {{id}}</span>\
        <span class="note">emission {{emissionPercent}} · weights sum <span data-k="weights_total">{{total}}</span></span></h3>
        {{#hasWeights}}<div class="scroll"><table><thead><tr><th>Miner</th><th class="num">Weight</th><th></th></tr></thead><tbody>
        {{#weights}}<tr data-weight="{{hotkey}}"><td><code title="{{hotkey}}">{{short}}</code></td><td class="num" data-k="weight">{{weight}}</td>\
        <td><div class="bar"><i style="width:{{percent}}%"></i></div></td></tr>
        {{/weights}}</tbody></table></div>{{/hasWeights}}{{^hasWeights}}<p class="note">No completed submissions yet.</p>{{/hasWeights}}
        </div>
        {{/mechanisms}}{{^hasMechanisms}}<p class="note">No mechanisms (no challenges).</p>{{/hasMechanisms}}
        <p class="gen">generated <span data-k="generated_at">{{generatedAt}}</span> · database {{database}}</p>

        """
}
