"""`curl URL` → health.check (status, latency, a JSON summary); `-I` → health.headers;
`curl …/metrics | grep X` → health.metrics with pattern X. The URL's scheme, host and port
become a per-site `base_url` param; its path stays as written."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.runbooks.importer.mappers.common import (
    Manual,
    Mapped,
    Opts,
    Result,
    Site,
    Tpl,
    Unmappable,
    as_python_regex,
    command_name,
    grep_of,
    parse_opts,
    value,
)
from bot.runbooks.importer.shell import Command, Stage, Word

VALUES = {"-w", "--write-out", "-o", "--output", "-m", "--max-time", "--connect-timeout", "-A"}
VALUES |= {"--user-agent", "--retry", "--cacert", "-e", "--referer", "--resolve"}
SENDS = {"-X", "--request", "-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F"}
SENDS |= {"--form", "-T", "--upload-file", "--json"}
CREDENTIALS = {
    "-H",
    "--header",
    "-u",
    "--user",
    "-b",
    "--cookie",
    "--cert",
    "--key",
    "-E",
    "-c",
    "--cookie-jar",
}
SWITCHES = {"-s", "--silent", "-S", "--show-error", "-f", "--fail", "--fail-with-body", "-I", "--head", "-v"}
SWITCHES |= {"--verbose", "-L", "--location", "-k", "--insecure", "-i", "--include", "-g", "--compressed"}


def url_arg(word: Word) -> Tpl:
    """`https://api.example.com/health` → `{{base_url}}/health` with base_url's default seen."""
    v = value(word, "var")
    text = word.text
    if isinstance(v, Tpl):
        first = v.parts[0]
        if not isinstance(first, str) or "://" not in first:
            raise Unmappable(f"the URL {text} is built from variables")
        text = first
        rest: tuple[str | Site, ...] = v.parts[1:]
    else:
        rest = ()
    if "://" not in text:
        text = "http://" + text
    split = urlsplit(text)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise Unmappable(f"{word.text} is not an http(s) URL")
    base = f"{split.scheme}://{split.netloc}"
    tail = text[len(base) :]
    return Tpl((Site("base_url", base, hint=base), *((tail,) if tail else ()), *rest))


def map_curl(stage: Stage, cmd: Command) -> Result:
    opts = parse_opts(stage.words[1:], VALUES | SENDS | CREDENTIALS, SWITCHES)
    refused = _refusal(opts)
    if refused is not None:
        return refused
    try:
        url = url_arg(opts.positionals[0])
    except Unmappable as exc:
        return Manual(exc.reason)
    notes = _output_notes(opts, cmd)
    filters = list(cmd.filters)
    if opts.has("-I", "--head"):
        return Mapped("health.headers", {"url": url}, notes + _unfiltered(filters))
    path = "".join(p for p in url.parts if isinstance(p, str))
    is_metrics = path.rstrip("/").endswith("/metrics")
    if filters and command_name(filters[0]) in ("grep", "egrep", "fgrep"):
        return _grepped(url, filters, notes, is_metrics)
    if is_metrics:
        return Mapped("health.metrics", {"url": url}, notes + _unfiltered(filters))
    if filters:
        notes += _filter_notes(filters)
    if opts.get("-w", "--write-out") is not None:
        notes.append("the check reports the response time (curl -w)")
    return Mapped("health.check", {"urls": [url]}, notes)


def _refusal(opts: Opts) -> Manual | None:
    """Why this curl is no health handler (a body, credentials, odd options, not one URL); None if it is."""
    sent = [f for f in SENDS if f in opts.values or f in opts.switches]
    method = opts.get("-X", "--request")
    if sent and not (len(sent) == 1 and method is not None and method.text.upper() in ("GET", "HEAD")):
        return Manual("sends a request body or a method other than GET; the health handlers only GET", True)
    creds = [f for f in CREDENTIALS if f in opts.values]
    if creds:
        return Manual(f"sends headers or credentials ({', '.join(creds)}); the health handlers send none")
    if opts.unknown:
        return Manual(f"{', '.join(opts.unknown)}: curl options with no equivalent")
    if len(opts.positionals) != 1:
        return Manual("curl with no URL or several URLs")
    return None


def _output_notes(opts: Opts, cmd: Command) -> list[str]:
    """What the handler does differently: it verifies TLS, and the response goes to the thread, not a file."""
    notes: list[str] = []
    if opts.has("-k", "--insecure"):
        notes.append("the handler verifies TLS certificates (curl -k did not)")
    out_file = opts.get("-o", "--output")
    if out_file is not None and out_file.text != "/dev/null":
        notes.append(f"the response goes to the run's thread, not to {out_file.text}")
    for r in cmd.redirects:
        if r.op in (">", ">>"):
            notes.append(f"the response goes to the run's thread, not to {r.target}")
    return notes


def _grepped(url: Tpl, filters: list[Stage], notes: list[str], is_metrics: bool) -> Result:
    """`curl … | grep X`: health.metrics with pattern X, for a /metrics URL and a plain grep only."""
    if not is_metrics:
        return Manual(f"filters the response with `{' '.join(filters[0].argv)}`; only /metrics is filtered")
    g = grep_of(filters[0])
    if g is None or g.invert or g.context:
        return Manual(f"its output goes through `{' '.join(filters[0].argv)}`, which no handler does")
    return Mapped(
        "health.metrics", {"url": url, "pattern": as_python_regex(g)}, notes + _unfiltered(filters[1:])
    )


def _filter_notes(filters: list[Stage]) -> list[str]:
    """Notes on health.check's filters: a leading `jq .field` is the summary's value; the rest are dropped."""
    notes: list[str] = []
    jq = filters[0]
    if command_name(jq) == "jq" and len(jq.words) == 2 and jq.words[1].text.startswith("."):
        selected = jq.words[1].text.strip(".")
        notes.append(
            f"the check summarises the JSON body; `jq {jq.words[1].text}` is its value body.{selected}"
            if selected
            else "the check summarises the JSON body (jq)"
        )
        filters = filters[1:]
    return notes + _unfiltered(filters)


def _unfiltered(filters: list[Stage]) -> list[str]:
    return [f"`{' '.join(s.argv)}` is not applied to the response" for s in filters]
