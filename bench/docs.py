"""docs/performance.md: the "Performance" section the README takes, written from the latest full run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import costs
from .report import COLD_START_FLOOR_TARGET, COLD_START_TARGET, IMPLS, Row, markdown, targets

SOURCE = "https://www.alexdebrie.com/posts/dynamodb-transactions-performance/"
TITLES = {"ours": "ours", "app": "Powertools app", "minimal": "minimal"}
WHOSE = {"ours": "ours", "app": "the Powertools app's", "minimal": "the minimal baseline's"}


def _money(value: float) -> str:
    return f"${value:,.2f}" if round(value, 2) == round(value, 3) else f"${value:,.3f}"


def _cost_table(model: dict[str, Any]) -> str:
    lines = [
        "| per million requests | ours | Powertools app | minimal |",
        "|---|---:|---:|---:|",
    ]

    def row(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(model_request[impl]) for impl in IMPLS) + " |"

    for request, label in (("first", "first requests (payments)"), ("replay", "replays")):
        model_request = model[request]
        lines += [
            f"| **{label}** | | | |",
            row("DynamoDB time (published p50s), ms", lambda m: f"{m['dynamodb_ms']:.2f}"),
            row("Lambda duration assumed, ms", lambda m: f"{m['duration_ms']:.1f}"),
            row("API Gateway REST", lambda m: _money(m["api_gateway"])),
            row("Lambda (requests + GB-s, 512 MB arm64)", lambda m: _money(m["lambda"])),
            row("DynamoDB on-demand writes", lambda m: f"{m['wru']} WRU = {_money(m['dynamodb'])}"),
            row("**total**", lambda m: f"**{_money(m['total'])}**"),
        ]
    return "\n".join(lines)


def _per_call(results: dict[str, Any]) -> str:
    first = results["latency"]["first"]
    parts = []
    for impl in IMPLS:
        calls = first[impl]["dynamodb_call_ms"]
        parts.append(
            f"{TITLES[impl]}: " + ", ".join(f"`{op}` {figures['median']:.2f} ms" for op, figures in calls.items())
        )
    return "; ".join(parts)


def _latency_note(results: dict[str, Any]) -> str:
    calls = results["latency"]["first"]["ours"]["dynamodb_call_ms"]
    if "TransactWriteItems" not in calls or "PutItem" not in calls:
        return ""
    weight = calls["TransactWriteItems"]["median"] / calls["PutItem"]["median"]
    outside = {impl: results["latency"]["first"][impl]["outside_dynamodb_ms"]["median"] for impl in IMPLS}
    return (
        "**First-request latency, plainly.** The 0.8x target assumes a transaction costs about what one write does;"
        f" moto takes {weight:.1f}x a `PutItem`'s time for ours, so here our 2 calls weigh about as much as"
        f" {1 + weight:.1f} writes against the baselines' 3. Outside the DynamoDB calls a first request spends"
        f" {outside['ours']:.2f} ms in our handler, {outside['app']:.2f} ms in the Powertools app's and"
        f" {outside['minimal']:.2f} ms in the minimal baseline's."
    )


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("**met**" if met else "**missed**")


def _targets_table(table: list[Row]) -> str:
    lines = [
        "| target (issue 5) | ours/app | against the Powertools app | ours/minimal | against the minimal |",
        "|---|---:|---|---:|---|",
    ]
    for row in targets(table):
        name = f"{row.section.split(',')[0].split(' (')[0]}: {row.label}"
        lines.append(
            f"| {name} {row.target} | {row.vs_app} | {_verdict(row.met)} | {row.vs_minimal} "
            f"| {_verdict(row.met_minimal)} |"
        )
    return "\n".join(lines)


def _summary(table: list[Row]) -> str:
    """Which targets are met against which baseline, in words, from the figures of this run."""
    rows = targets(table)
    both = [r for r in rows if r.met and r.met_minimal]
    app_only = [r for r in rows if r.met and not r.met_minimal]
    neither = [r for r in rows if not r.met and not r.met_minimal]
    minimal_only = [r for r in rows if not r.met and r.met_minimal]

    def names(group: list[Row]) -> str:
        return "; ".join(f"{r.section.split(',')[0].split(' (')[0].lower()}, {r.label} ({r.target})" for r in group)

    parts = []
    if both:
        parts.append(f"Met against both baselines: {names(both)}.")
    if app_only:
        parts.append(f"Met against the Powertools app baseline only: {names(app_only)}.")
    if minimal_only:
        parts.append(f"Met against the minimal baseline only: {names(minimal_only)}.")
    if neither:
        parts.append(f"Missed against both baselines: {names(neither)}.")
    return " ".join(parts)


def _cold_note(results: dict[str, Any]) -> str:
    cold = results["coldstart"]
    total = {impl: cold[impl]["total_ms_median"] for impl in IMPLS}
    imported = {impl: cold[impl]["import_ms_median"] for impl in IMPLS}
    limit_ms = COLD_START_TARGET * total["app"]
    below = "below" if limit_ms < total["minimal"] else "above"
    verdict = "does not meet" if total["ours"] > limit_ms else "meets"
    minimal_verdict = "does not meet" if total["ours"] > COLD_START_TARGET * total["minimal"] else "meets"
    floor = ""
    if "floor" in cold:
        floor_ms = cold["floor"]["total_ms_median"]
        share = ", ".join(f"{floor_ms / total[impl]:.0%} of {whose}" for impl, whose in WHOSE.items())
        under = (
            f" The {limit_ms:.0f} ms the target asks for is less than that floor."
            if limit_ms < floor_ms
            else f" The {limit_ms:.0f} ms the target asks for leaves {limit_ms - floor_ms:.0f} ms above that floor."
        )
        floor = (
            f"\nA process that does only that (`bench/coldstart_floor.py`: a DynamoDB client built as ours is, the"
            f" request model, one `PutItem`; no Powertools at all) takes {floor_ms:.0f} ms: {share}.{under}"
        )
    return f"""**Cold start, plainly.** Ours takes {total["ours"]:.0f} ms (import + clients + first request), the
Powertools app {total["app"]:.0f} ms and the minimal baseline {total["minimal"]:.0f} ms. Ours {verdict} the
{COLD_START_TARGET}x target against the Powertools app: that would take {limit_ms:.0f} ms, {below} the minimal
baseline's {total["minimal"]:.0f} ms, which has no routing framework, no validation middleware and no tracer.
Against the minimal baseline ours {minimal_verdict} it ({total["ours"] / total["minimal"]:.2f}x). The reason is
that most of a cold start is work all three share and none can skip: importing botocore and building a DynamoDB
client, and importing pydantic and building the models' validators (the request model is the same in all three).
Ours builds its client with a loader that skips botocore's walk of every service it ships and parses its JSON
into plain dicts (`dal/one_service_loader.py`; decision 0213 measures it at half the time `boto3.client` takes).{floor}
All four run with the functions' template environment, so none reads every installed package's entry points for
pydantic plugins at its first model (`PYDANTIC_DISABLE_PLUGINS`, template.yaml's Globals).
What differs is small next to that. Ours and the app both load Powertools' event handler (which imports every
resolver, asyncio included); ours adds our own package ({cold["ours"]["modules"]} modules in all), the app
Powertools' validation middleware, the idempotency utility and the X-Ray SDK ({cold["app"]["modules"]}); the
minimal baseline loads only the idempotency utility, Logger and Metrics ({cold["minimal"]["modules"]}).
Our module imports fastest ({imported["ours"]:.0f} ms against {imported["app"]:.0f} and
{imported["minimal"]:.0f} ms) because botocore is imported and the client built on first use; that work moves into the
first request, where the baselines, which build their client at import, have already paid it."""


def _import_profile(results: dict[str, Any]) -> str:
    lines = []
    for impl in IMPLS:
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in results["import_profile"][impl][:6])
        total = results["import_profile"][f"{impl}_total_ms"][0][1]
        lines.append(f"  - {TITLES[impl]} ({total:.0f} ms of imports in all): {top}")
    return "\n".join(lines)


def _cold_path(results: dict[str, Any]) -> str:
    """Issue 23's cold-start targets, ours against the Powertools app and against the floor, from this run."""
    cold = results["coldstart"]
    if "floor" not in cold:
        return ""
    rows = []
    for field, label in (("total_ms", "import + clients + first request"), ("cold_ms", "with interpreter start-up")):
        ours, app, floor = (cold[impl][f"{field}_median"] for impl in ("ours", "app", "floor"))
        rows.append(
            f"| {label} | {ours:.1f} | {app:.1f} | {floor:.1f} | {ours / app:.3f} "
            f"({'met' if ours / app <= COLD_START_TARGET else 'missed'}) | {ours / floor:.3f} "
            f"({'met' if ours / floor <= COLD_START_FLOOR_TARGET else 'missed'}) |"
        )
    header = f"| cold start, ms | ours | Powertools app | floor | ours/app (<= {COLD_START_TARGET}) "
    header += f"| ours/floor (<= {COLD_START_FLOOR_TARGET}) |"
    table = "\n".join(rows)
    return f"""### Cold path (issue 23)

A first `POST /payments` loads the payment path only (`tests/integration/test_cold_path.py` fails, in a fresh
interpreter, on a deny-listed module): the use cases and tables are built on first use (`bootstrap.Container`),
refunds and listing import their modules when first called, the OpenAPI documentation objects are
`tools/openapi.py`'s alone, ISO 4217's table is written out (`models/currencies.py`, checked against the
`iso4217` package, whose import parses XML), and the refund, list, event and problem models use `defer_build`.
What stays and cannot go: Powertools' `event_handler` package imports every resolver, AppSync's `asyncio`
included, for any `APIGatewayRestResolver` (the Powertools app pays it too). Medians of {cold["runs"]} fresh
processes, this run:

{header}
|---|---:|---:|---:|---:|---:|
{table}

The floor (`bench/coldstart_floor.py`) is the work every implementation shares: a DynamoDB client (built as ours
builds it, so that ours/floor counts only what we add), the request model, one `PutItem`. Import profile
(`python -X importtime`, self time by top-level package, ms):
{_import_profile(results)}
"""


def _completions(results: dict[str, Any]) -> str:
    """Both completions side by side (bench/completions.py), when the run measured them."""
    if "completions" not in results:
        return ""
    from . import completions

    rows = "\n".join(f"    {line}" for line in completions.lines(results["completions"])[1:])
    return f"""### Completions: one transaction, or a sequence

What global tables in strong consistency cost a first request (no transactions there: the sequential completion,
`IDEMPOTENCY_COMPLETION=sequential`, docs/multi-region.md), measured in the same run, alternating request by request:

{rows}

Fewer write units (a transactional write costs twice), more calls; on AWS with global tables each of the four
writes also waits for another Region, which this single-Region model leaves out.

"""


def _kept_sections(path: Path) -> str:
    """Sections another bench writes by hand (`python -m bench.priming`): kept across a rewrite."""
    marker = "\n### SnapStart priming"
    if not path.exists() or marker not in path.read_text():
        return ""
    return path.read_text().split(marker, 1)[1].join([marker, ""])


def write(results: dict[str, Any], table: list[Row], path: Path) -> None:
    model = results["aws_model"]
    first = results["latency"]["first"]
    cpu = {impl: first[impl]["cpu_ms"]["median"] for impl in IMPLS}
    machine, versions = results["machine"], results["versions"]
    sizes = ", ".join(f"{label} {size} B" for label, size in results["item_bytes_max"].items())
    artifact = results["artifact"]
    artifact_text = (
        f"The `sam build` artifact measured here zips to {artifact['zip_bytes']:,} bytes "
        f"({artifact['unzipped_bytes']:,} unzipped, {artifact['files']} files, {artifact['pyc_files']} of them "
        "`.pyc`)."
        if artifact["built"]
        else "The `sam build` artifact was not built for this run."
    )
    pyc_text = (
        "It ships `.pyc` compiled for Python 3.13 (the runtime's), so the cold-start rows with `.pyc` are the ones"
        " that apply to it."
        if artifact.get("pyc_files")
        else "It ships no `.pyc` (no Python 3.13 was found at build time), so the rows without `.pyc` apply to it."
    )
    aws = {impl: model["first"][impl]["dynamodb_ms"] for impl in IMPLS}
    put, transact = costs.PUT_ITEM_P50_MS, costs.TRANSACT_5_ITEMS_P50_MS
    extra_writes = model["first"]["ours"]["dynamodb"] - model["first"]["app"]["dynamodb"]
    without = results.get("coldstart_without_bytecode")
    without_runs = f" ({without['runs']} runs each)" if without else ""
    text = f"""## Performance

Measured with `{results["command"]}` on {results["started_at"][:10]}: Python {results["python"]},
{machine["cpu_count"]} CPUs, load average {machine["load_start"][0]} at the start and {machine["load_end"][0]} at the
end (the bench's own processes included); Powertools {versions["aws-lambda-powertools"]}, aws-xray-sdk
{versions.get("aws-xray-sdk", "n/a")}, boto3 {versions["boto3"]}, moto {versions["moto"]}. Raw figures in
`bench/results/full.json`, chart in `docs/bench.png`.

Ours is measured against two baselines, both built on Powertools' idempotency utility (`DynamoDBPersistenceLayer`,
keyed on the caller and the `Idempotency-Key` header, the body checked against the stored payload hash) and both
writing the payment with one plain `PutItem`: 3 DynamoDB calls per first request, not atomic. Same tables, same
request model, sandbox processor, payment item and responses as ours.

- **Powertools app** (`bench/baseline_app.py`): the same API built the way the Powertools documentation shows it,
  and the baseline the targets of issue 5 are judged against. `APIGatewayRestResolver(enable_validation=True)` with
  the body as `Annotated[CreatePaymentRequest, Body()]` and the key as a required `Header`; exception handlers
  render the same problem+json responses (400, 402, 409, 422, 503); `Logger.inject_lambda_context`,
  `Metrics.log_metrics`, `Tracer.capture_lambda_handler` (with `POWERTOOLS_TRACE_DISABLED=true`, as our template
  sets it when tracing is off, so nothing is sent); `@idempotent_function` around the route's work with a pydantic
  output serializer. A decline is returned, so Powertools records and replays it. `@tracer.capture_method` on the
  routes, which the docs' examples also use, is left out: it would only make this baseline slower.
- **minimal** (`bench/baseline_handler.py`): `@idempotent` on a hand-routed handler, no routing framework, no
  validation middleware, no tracer; the body is validated with the same pydantic model by hand. It is the lower
  bound of what any Powertools-based handler costs, not what a user would typically build.

Ours uses Powertools' `APIGatewayRestResolver` without its validation middleware (our strict pydantic model
validates the body in `handlers/transport.parse_body`), Logger and Metrics, and loads no tracer when tracing is off.

How it is measured: the three run in one process, call for call (first requests of all three, then their replays;
the order rotates every iteration), against one embedded DynamoDB (serialized moto, in its own process so that CPU
time is the handler's). DynamoDB calls are counted at each client with botocore hooks. Latency is the handler's
wall time per call. Cold starts are fresh processes, rotating too, that import the handler module, build their
clients and serve one first request. `LAMBDA_TASK_ROOT` is set as on Lambda: without it the X-Ray SDK, which the
app's `Tracer` imports, would take its off-Lambda path and build a botocore X-Ray client at import (about 70 ms
that a cold start on Lambda never pays).

![Latency distributions and cold starts](bench.png)

### Targets

The target column below and in the full table is judged against the **Powertools app** baseline; the last two
columns show what the same targets give against the minimal baseline. Round trips are targets on our own counts.

{_targets_table(table)}

{_summary(table)}

{_latency_note(results)}

{_cold_note(results)}

{_cold_path(results)}
{_completions(results)}### All figures

{markdown(table)}

How to read it:

- **Round trips are the portable figure.** A first request costs us 2 DynamoDB calls (a conditional `PutItem`
  claim, then one `TransactWriteItems` holding the payment and the recorded response) against 3 for both
  baselines; every other request costs the same number of calls in all three.
- **Latencies are moto's, not DynamoDB's.** Median time per call at the client, first requests:
  {_per_call(results)}. moto prices a transaction at about two plain writes, and deep-copies every table a
  transaction touches (the bench empties the tables after each iteration so that this stays flat). Real DynamoDB
  prices it very differently, see below.
- **CPU per request** is `time.process_time` of the handler process; DynamoDB runs in another process. The app
  baseline does more per request than the minimal one: Powertools' routing and validation middleware, the
  tracer's wrapper, and the pydantic (de)serialization of the idempotent function's input and output. Ours routes
  with the same resolver but validates the body itself.
- **Replays.** Ours and the minimal baseline replay the recorded answer byte for byte. The Powertools app replays
  the same JSON, but Powertools stores a function's result with sorted keys, so the free-form `metadata` object
  comes back with its keys sorted (the bench checks the app's replays for JSON equality, the others' for identical
  bytes). Ours also marks a replay with an `Idempotent-Replayed: true` header; neither baseline does. With the
  in-memory cache on (`IDEMPOTENCY_REPLAY_CACHE_SIZE` for ours, Powertools' `use_local_cache`
  for the baselines) a replay that lands on a warm environment makes no DynamoDB call.
- **Cold start without `.pyc`**{without_runs}: `/var/task` is read-only, so a module shipped without bytecode is
  compiled at every cold start. The artifact now ships `.pyc` compiled for Python 3.13 when a Python 3.13 is found
  at build time (`src/Makefile`, unchecked-hash, so valid for any 3.13.x); the "without .pyc" rows show what a build
  without one costs (every shipped module compiled; boto3 keeps its bytecode, as the runtime provides it). The bench
  runs Python {results["python"]}, so both sets of rows are an emulation of the runtime's 3.13.
- Where import time goes (`python -X importtime`, self time summed by top-level package, ms; a baseline's module
  code includes building its boto3 client, which ours builds in the first request):
{_import_profile(results)}
- Largest stored items: {sizes}; all under 1 KB, so each write is 1 WRU (2 inside a transaction).
- {artifact_text} {pyc_text}

### On real AWS: a model

DynamoDB time, from a public benchmark ([Alex DeBrie, "DynamoDB Transactions Performance Testing"]({SOURCE})):
`PutItem` p50 {put} ms, `TransactWriteItems` of 5 items p50 {transact} ms (ours writes 2 items, so this is
pessimistic). A first request then spends about {put} + {transact} = **{aws["ours"]:.1f} ms** in DynamoDB for us
against 3 x {put} = **{aws["app"]:.1f} ms** for either baseline; a replay is one conditional write, {put} ms, for
all three. The Lambda duration assumed below adds the CPU time measured here (median first request: ours
{cpu["ours"]:.2f} ms, Powertools app {cpu["app"]:.2f} ms, minimal {cpu["minimal"]:.2f} ms) stretched by
{costs.FULL_VCPU_MB}/{costs.MEMORY_MB}, the share of a vCPU a {costs.MEMORY_MB} MB function gets.

Prices: API Gateway REST ${costs.API_GATEWAY_REST_PER_MILLION:.2f} per million requests; Lambda arm64 at
{costs.MEMORY_MB} MB, ${costs.LAMBDA_REQUESTS_PER_MILLION:.2f} per million requests plus
${costs.LAMBDA_ARM_GB_SECOND:.10f} per GB-second; DynamoDB on-demand ${costs.WRU_PER_MILLION} per million write
request units and ${costs.RRU_PER_MILLION} per million read request units (a GET is 1 RRU for all three).
Transactional writes cost twice: our first request is 1 WRU (claim) + 2 x (1 + 1) WRU (transaction) = 5 WRU
against the baselines' 3 WRU; a replay, conflict or mismatch is one failed conditional write, 1 WRU for all three.
Items are assumed under 1 KB (checked above). These are us-east-1 list prices at the time of writing; they may
change.

{_cost_table(model)}

**The trade-off, plainly.** On AWS we expect our first request to be *slower* than either baseline's (about
{aws["ours"] - aws["app"]:.0f} ms more DynamoDB time at p50) and to cost {_money(extra_writes)} more per million
payments in DynamoDB writes. What that buys is atomicity: the payment and its recorded response commit together or
not at all, and a takeover after a crash can never record a second payment or a different answer. The baselines'
three writes are cheaper but not atomic: a crash between the payment `PutItem` and Powertools' `UpdateItem` leaves a
payment whose response was never recorded, and the retry runs the work again. Replays, conflicts and mismatches
cost one write in all three.
"""
    kept = _kept_sections(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n" + kept if kept else text)
