"""docs/performance.md: the "Performance" section the README takes, written from the latest full run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import costs
from .report import Row, markdown, missed

SOURCE = "https://www.alexdebrie.com/posts/dynamodb-transactions-performance/"


def _money(value: float) -> str:
    return f"${value:,.2f}" if round(value, 2) == round(value, 3) else f"${value:,.3f}"


def _cost_table(model: dict[str, Any]) -> str:
    lines = [
        "| per million requests | ours | baseline |",
        "|---|---:|---:|",
    ]
    for request, label in (("first", "first requests (payments)"), ("replay", "replays")):
        ours, base = model[request]["ours"], model[request]["baseline"]
        lines += [
            f"| **{label}** | | |",
            f"| DynamoDB time (published p50s), ms | {ours['dynamodb_ms']:.2f} | {base['dynamodb_ms']:.2f} |",
            f"| Lambda duration assumed, ms | {ours['duration_ms']:.1f} | {base['duration_ms']:.1f} |",
            f"| API Gateway REST | {_money(ours['api_gateway'])} | {_money(base['api_gateway'])} |",
            f"| Lambda (requests + GB-s, 512 MB arm64) | {_money(ours['lambda'])} | {_money(base['lambda'])} |",
            f"| DynamoDB on-demand writes | {ours['wru']} WRU = {_money(ours['dynamodb'])} "
            f"| {base['wru']} WRU = {_money(base['dynamodb'])} |",
            f"| **total** | **{_money(ours['total'])}** | **{_money(base['total'])}** |",
        ]
    return "\n".join(lines)


def _per_call(results: dict[str, Any]) -> str:
    first = results["latency"]["first"]
    parts = []
    for impl in ("ours", "baseline"):
        calls = first[impl]["dynamodb_call_ms"]
        parts.append(f"{impl}: " + ", ".join(f"`{op}` {figures['median']:.2f} ms" for op, figures in calls.items()))
    return "; ".join(parts)


def _latency_note(results: dict[str, Any]) -> str:
    calls = results["latency"]["first"]["ours"]["dynamodb_call_ms"]
    if "TransactWriteItems" not in calls or "PutItem" not in calls:
        return ""
    weight = calls["TransactWriteItems"]["median"] / calls["PutItem"]["median"]
    return (
        " The first-request latency target assumes a transaction costs about what one write does; moto takes"
        f" {weight:.1f}x a `PutItem`'s time for ours, so here our 2 calls weigh about as much as"
        f" {1 + weight:.1f} writes against the baseline's 3."
    )


def write(results: dict[str, Any], table: list[Row], path: Path) -> None:
    model = results["aws_model"]
    first = results["latency"]["first"]
    cpu_ours, cpu_base = first["ours"]["cpu_ms"]["median"], first["baseline"]["cpu_ms"]["median"]
    machine, versions = results["machine"], results["versions"]
    misses = missed(table)
    miss_text = (
        "**Targets missed in this run:** "
        + "; ".join(f"{r.section.split(',')[0].lower()}: {r.label}" for r in misses)
        + "."
        if misses
        else "Every target was met in this run."
    )
    sizes = ", ".join(f"{label} {size} B" for label, size in results["item_bytes_max"].items())
    artifact = results["artifact"]
    artifact_text = (
        f"The `sam build` artifact zips to {artifact['zip_bytes']:,} bytes ({artifact['unzipped_bytes']:,} unzipped, "
        f"{artifact['files']} files, {artifact['pyc_files']} of them `.pyc`)."
        if artifact["built"]
        else "The `sam build` artifact was not built for this run."
    )
    cold = results["coldstart"]
    ours_first_request_ms = cold["ours"]["total_ms_median"] - cold["ours"]["import_ms_median"]
    base_first_request_ms = cold["baseline"]["total_ms_median"] - cold["baseline"]["import_ms_median"]
    aws_ours, aws_base = model["first"]["ours"]["dynamodb_ms"], model["first"]["baseline"]["dynamodb_ms"]
    put, transact = costs.PUT_ITEM_P50_MS, costs.TRANSACT_5_ITEMS_P50_MS
    extra_writes = model["first"]["ours"]["dynamodb"] - model["first"]["baseline"]["dynamodb"]
    text = f"""## Performance

Measured with `{results["command"]}` on {results["started_at"][:10]}: Python {results["python"]},
{machine["cpu_count"]} CPUs, load average {machine["load_start"][0]} at the start and {machine["load_end"][0]} at the
end (the bench's own processes included); Powertools {versions["aws-lambda-powertools"]}, boto3 {versions["boto3"]},
moto {versions["moto"]}. Raw figures in `bench/results/full.json`, chart in `docs/bench.png`.

The **baseline** (`bench/baseline_handler.py`) is the same API as one would build it with Powertools alone:
`@idempotent` with `DynamoDBPersistenceLayer`, keyed on the caller and the `Idempotency-Key` header, the same
request model, sandbox processor, payment item and 201 response, one plain `PutItem` for the payment, one log line
and one metric per request. Both run in one process, call for call (the order flips every iteration), against one
embedded DynamoDB (serialized moto, in its own process so that CPU time is the handler's). DynamoDB calls are
counted at each client with botocore hooks. Latency is the handler's wall time per call. Cold starts are fresh
processes that import the handler module, build their clients and serve one first request.

![Latency distributions and cold starts](bench.png)

{markdown(table)}

{miss_text}{_latency_note(results)}

How to read it:

- **Round trips are the portable figure.** A first request costs us 2 DynamoDB calls (a conditional `PutItem`
  claim, then one `TransactWriteItems` holding the payment and the recorded response) against the baseline's 3.
- **Latencies are moto's, not DynamoDB's.** Median time per call at the client, first requests: {_per_call(results)}.
  moto prices a transaction at about two plain writes, and deep-copies every table a transaction touches (the bench
  empties the tables after each iteration so that this stays flat). Real DynamoDB prices it very differently, see
  below.
- **CPU per request** is `time.process_time` of the handler process; DynamoDB runs in another process.
- **Cold start:** our module imports faster because boto3 is imported and the client built on first use, so that
  work moves into the first request (ours {ours_first_request_ms:.0f} ms, baseline {base_first_request_ms:.0f} ms).
  Most of a cold start is shared (botocore, pydantic, Powertools); ours loads {cold["ours"]["modules"]} modules
  against {cold["baseline"]["modules"]}, the difference being mostly Powertools' event handler package (which
  imports every resolver, asyncio included). The artifact ships no `.pyc` and `/var/task` is read-only, so on
  Lambda every module shipped in the artifact is compiled at every cold start: the "without .pyc" rows emulate
  that (boto3 keeps its bytecode, as the runtime provides it).
- Largest stored items: {sizes}; all under 1 KB, so each write is 1 WRU (2 inside a transaction).
- {artifact_text}

### On real AWS: a model

DynamoDB time, from a public benchmark ([Alex DeBrie, "DynamoDB Transactions Performance Testing"]({SOURCE})):
`PutItem` p50 {put} ms, `TransactWriteItems` of 5 items p50 {transact} ms (ours writes 2 items, so this is
pessimistic). A first request then spends about {put} + {transact} = **{aws_ours:.1f} ms** in DynamoDB for us
against 3 x {put} = **{aws_base:.1f} ms** for the baseline; a replay is one conditional write, {put} ms, for
both. The Lambda duration assumed below adds the CPU time measured here (median first request: ours
{cpu_ours:.2f} ms, baseline {cpu_base:.2f} ms) stretched by {costs.FULL_VCPU_MB}/{costs.MEMORY_MB}, the share of a
vCPU a {costs.MEMORY_MB} MB function gets.

Prices: API Gateway REST ${costs.API_GATEWAY_REST_PER_MILLION:.2f} per million requests; Lambda arm64 at
{costs.MEMORY_MB} MB, ${costs.LAMBDA_REQUESTS_PER_MILLION:.2f} per million requests plus
${costs.LAMBDA_ARM_GB_SECOND:.10f} per GB-second; DynamoDB on-demand ${costs.WRU_PER_MILLION} per million write
request units and ${costs.RRU_PER_MILLION} per million read request units (a GET is 1 RRU for both). Transactional
writes cost twice: our first request is 1 WRU (claim) + 2 x (1 + 1) WRU (transaction) = 5 WRU against the
baseline's 3 WRU; a replay, conflict or mismatch is one failed conditional write, 1 WRU for both. Items are assumed
under 1 KB (checked above). These are us-east-1 list prices at the time of writing; they may change.

{_cost_table(model)}

**The trade-off, plainly.** On AWS we expect our first request to be *slower* than the baseline's (about
{aws_ours - aws_base:.0f} ms more DynamoDB time at p50) and to cost {_money(extra_writes)} more per million payments in
DynamoDB writes. What that buys is atomicity: the payment and its recorded response commit together or not at all,
and a takeover after a crash can never record a second payment or a different answer. The baseline's three writes
are cheaper but not atomic: a crash between its payment `PutItem` and Powertools' `UpdateItem` leaves a payment
whose response was never recorded, and the retry runs the handler again. Replays, conflicts and mismatches cost one
write for both; the opt-in replay cache (`IDEMPOTENCY_REPLAY_CACHE_SIZE`; Powertools' `use_local_cache` for the
baseline) answers a replay that lands on a warm environment with no DynamoDB call.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
