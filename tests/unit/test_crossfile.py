"""Cross-file context: the ring of recent edits, definitions found with tree-sitter, the
repository header (its budget, its stability while typing, and its absence)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from qwen_lsp.admission import ADMITTED, Verdict
from qwen_lsp.completion import CompletionService
from qwen_lsp.context import fim_prompt, fim_window
from qwen_lsp.crossfile.definitions import definitions
from qwen_lsp.crossfile.header import CrossFileContext, names_near
from qwen_lsp.crossfile.ring import Chunk, RecentChunks, similarity
from qwen_lsp.documents import DocumentStore, Snapshot
from qwen_lsp.engine import FimTokens, PromptPart, Special
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.settings import Settings

ROOT = "/work/shop"

INVENTORY_PY = '''\
"""Stock levels per warehouse."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bin:
    aisle: str
    shelf: int
    capacity_units: int


class Warehouse:
    def __init__(self, code: str) -> None:
        self.code = code
        self._stock: dict[str, int] = {}

    def receive(self, sku: str, units: int) -> None:
        self._stock[sku] = self._stock.get(sku, 0) + units

    def reserve_units(self, sku: str, units: int, *, partial: bool = False) -> int:
        """Take units out of stock; with partial, as many as there are."""
        have = self._stock.get(sku, 0)
        if units > have and not partial:
            raise ValueError(sku)
        taken = min(units, have)
        self._stock[sku] = have - taken
        return taken

    def on_hand(self, sku: str) -> int:
        return self._stock.get(sku, 0)


def restock_threshold(weekly_sales: float, lead_time_days: int) -> int:
    return round(weekly_sales / 7 * lead_time_days * 1.5)


def long_report(warehouse: Warehouse) -> str:
    lines = [f"warehouse {warehouse.code}"]
    lines.append("")
    lines.append("stock:")
    for sku in sorted(warehouse._stock):
        lines.append(f"  {sku}: {warehouse.on_hand(sku)}")
    lines.append("")
    lines.append("bins:")
    lines.append("  none")
    lines.append("")
    lines.append("end")
    lines.append("")
    lines.append("--")
    lines.append("==")
    lines.append("")
    return "\\n".join(lines)
'''

PRICING_JS = """\
import { round2 } from "./util.js";

export function netPrice(grossCents, vatRate = 0.2) {
  return round2(grossCents / (1 + vatRate));
}

export const centsToLabel = (cents, currency) => `${(cents / 100).toFixed(2)} ${currency}`;

const notAFunction = 42;

export class PriceBook {
  constructor(entries) {
    this.entries = new Map(entries);
  }
  lookup(sku) {
    return this.entries.get(sku);
  }
}
"""

ORDERS_GO = """\
package orders

import "fmt"

type LineItem struct {
	SKU   string
	Units int
}

type Order struct {
	ID    string
	Lines []LineItem
}

func (o *Order) UnitCount() int {
	total := 0
	for _, l := range o.Lines {
		total += l.Units
	}
	return total
}

func NewOrder(id string) *Order {
	return &Order{ID: id}
}

func describe(o *Order) string { return fmt.Sprintf("%s: %d", o.ID, o.UnitCount()) }
"""

CHECKOUT_PY = """\
from inventory import Warehouse, restock_threshold


def checkout(warehouse: Warehouse, basket: dict[str, int]) -> dict[str, int]:
    taken = {}
    for sku, units in basket.items():
        taken[sku] = warehouse.reserve_units(sku, units, partial=True)
    return taken


def needs_restock(warehouse: Warehouse, sku: str, weekly_sales: float) -> bool:
    \n\
"""


LEDGER_RS = """\
pub struct Account { pub id: u32, balance: i64 }

impl Account {
    pub fn deposit(&mut self, cents: i64) -> i64 {
        self.balance += cents;
        self.balance
    }
}

fn audit(account: &Account) -> bool { account.balance >= 0 }
"""

BILLING_TS = """\
export interface Invoice { id: string; totalCents: number }
export type Currency = "EUR" | "USD";
export class Biller {
  constructor(private rate: number) {}
  bill(invoice: Invoice): number { return invoice.totalCents * this.rate; }
}
export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
"""


def snapshot(name: str, language: str, text: str) -> Snapshot:
    return Snapshot.build(f"file://{ROOT}/{name}", language, 1, text)


def chars(text: str) -> int:
    """One token per character: additive, so a budget check is exact."""
    return len(text)


def flat(parts: list[PromptPart] | tuple[PromptPart, ...]) -> str:
    return "".join(p.text if isinstance(p, Special) else p for p in parts)


def context(*documents: Snapshot) -> CrossFileContext:
    return CrossFileContext(lambda: list(documents), lambda: ROOT)


CHECKOUT_URI = f"file://{ROOT}/checkout.py"
CURSOR = len(CHECKOUT_PY) - 1  # after the indentation of the empty body line


# --------------------------------------------------------------------------- definitions


@pytest.mark.parametrize(
    ("name", "language", "text", "expected"),
    [
        (
            "inventory.py",
            "python",
            INVENTORY_PY,
            {
                ("Bin", True),
                ("Warehouse", True),
                ("__init__", False),
                ("receive", False),
                ("reserve_units", False),
                ("on_hand", False),
                ("restock_threshold", True),
                ("long_report", True),
            },
        ),
        (
            "pricing.js",
            "javascript",
            PRICING_JS,
            {
                ("netPrice", True),
                ("centsToLabel", True),
                ("PriceBook", True),
                ("constructor", False),
                ("lookup", False),
            },
        ),
        (
            "orders.go",
            "go",
            ORDERS_GO,
            {
                ("LineItem", True),
                ("Order", True),
                ("UnitCount", True),
                ("NewOrder", True),
                ("describe", True),
            },
        ),
        (
            "ledger.rs",
            "rust",
            LEDGER_RS,
            {("Account", True), ("deposit", False), ("audit", True)},
        ),
        (
            "billing.ts",
            "typescript",
            BILLING_TS,
            {
                ("Invoice", True),
                ("Currency", True),
                ("Biller", True),
                ("constructor", False),
                ("bill", False),
                ("total", True),
            },
        ),
    ],
)
def test_definitions_are_found_in_each_language(
    name: str, language: str, text: str, expected: set[tuple[str, bool]]
) -> None:
    found = definitions(snapshot(name, language, text))
    assert {(d.name, d.top_level) for d in found} == expected


@pytest.mark.parametrize(
    ("name", "first_line", "last_line"),
    [
        # decorators belong to the definition
        ("Bin", "@dataclass(frozen=True)", "    capacity_units: int"),
        # a short function is shown whole
        ("restock_threshold", "def restock_threshold(", "    return round(weekly_sales"),
        # a method is shown under its class's first line
        ("on_hand", "class Warehouse:", "        return self._stock.get(sku, 0)"),
        # a long function: its head, then an elision
        ("long_report", "def long_report(warehouse: Warehouse) -> str:", "    ..."),
    ],
)
def test_definition_text(name: str, first_line: str, last_line: str) -> None:
    [found] = [
        d for d in definitions(snapshot("inventory.py", "python", INVENTORY_PY)) if d.name == name
    ]
    assert found.lines[0].startswith(first_line)
    assert found.lines[-1].startswith(last_line)


def test_a_long_class_is_outlined_with_stub_methods() -> None:
    [warehouse] = [
        d
        for d in definitions(snapshot("inventory.py", "python", INVENTORY_PY))
        if d.name == "Warehouse"
    ]
    assert warehouse.lines == (
        "class Warehouse:",
        "    def __init__(self, code: str) -> None: ...",
        "    def receive(self, sku: str, units: int) -> None: ...",
        "    def reserve_units(self, sku: str, units: int, *, partial: bool = False) -> int: ...",
        "    def on_hand(self, sku: str) -> int: ...",
    )


def test_a_document_without_a_tree_has_no_definitions() -> None:
    assert definitions(Snapshot.build("file:///x/notes.txt", "plaintext", 1, "def f(): pass")) == []


# --------------------------------------------------------------------------- the ring


def lines_of(prefix: str, count: int = 40) -> list[str]:
    return [f"{prefix}_value_{i} = compute_{prefix}({i})" for i in range(count)]


def test_edits_in_one_region_update_one_chunk() -> None:
    ring = RecentChunks()
    lines = lines_of("a")
    ring.record("file:///a.py", lines, 20)
    lines[21] = "changed = True"
    ring.record("file:///a.py", lines, 21)
    [chunk] = ring.chunks()
    assert "changed = True" in chunk.lines and chunk.start_line <= 20 < chunk.end_line


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        # capacity: the oldest files go first
        (
            [(f"file:///f{i}.py", f"f{i}", 5) for i in range(10)],
            [f"file:///f{i}.py" for i in range(2, 10)],
        ),
        # at most three chunks of one file, whatever it is edited
        (
            [("file:///a.py", "a", line) for line in (0, 100, 200, 300, 400)],
            ["file:///a.py"] * 3,
        ),
        # a chunk that is a near-copy of an older one (pasted code) replaces it
        ([("file:///a.py", "same", 5), ("file:///b.py", "same", 5)], ["file:///b.py"]),
    ],
)
def test_ring_bounds_and_dedup(records: list[tuple[str, str, int]], expected: list[str]) -> None:
    ring = RecentChunks()
    for uri, prefix, line in records:
        ring.record(uri, lines_of(prefix, 500), line)
    assert [chunk.uri for chunk in ring.chunks()] == expected


def test_blank_chunks_are_not_kept_and_closed_files_are_forgotten() -> None:
    ring = RecentChunks()
    ring.record("file:///blank.py", [""] * 30, 10)
    assert ring.chunks() == ()
    ring.record("file:///a.py", lines_of("a"), 3)
    ring.record("file:///b.py", lines_of("b"), 3)
    ring.forget("file:///a.py")
    assert [c.uri for c in ring.chunks()] == ["file:///b.py"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            ["x = compute(1)", "y = compute(2)"],
            ["  x = compute(1)", "y = compute(2)", "z = 3"],
            1.0,
        ),
        (["x = compute(1)", "y = compute(2)"], ["x = compute(1)", "w = other()"], 0.5),
        (["x = compute(1)"], ["totally = different()"], 0.0),
        (["", "}", "  "], ["", "}"], 0.0),  # short lines do not make texts similar
    ],
)
def test_similarity(a: list[str], b: list[str], expected: float) -> None:
    assert similarity(a, b) == expected


# --------------------------------------------------------------------------- the header


def test_header_layout_is_qwen_repository_format() -> None:
    header = context(snapshot("inventory.py", "python", INVENTORY_PY)).header(
        CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens()
    )
    text = flat(header.parts)
    assert text.startswith("<|repo_name|>shop\n<|file_sep|>inventory.py\n")
    assert text.endswith("\n<|file_sep|>checkout.py\n")
    assert "def reserve_units(self, sku: str, units: int, *, partial: bool = False)" in text
    assert "def restock_threshold(weekly_sales: float, lead_time_days: int) -> int:" in text
    assert [p.text for p in header.parts if isinstance(p, Special)] == [
        "<|repo_name|>",
        "<|file_sep|>",
        "<|file_sep|>",
    ]


@pytest.mark.parametrize("budget", [0, 30, 60, 120, 250, 500, 2000])
def test_header_stays_within_the_budget(budget: int) -> None:
    documents = (
        snapshot("inventory.py", "python", INVENTORY_PY),
        snapshot("pricing.js", "javascript", PRICING_JS),
    )
    cross = context(*documents)
    cross.record_edit(documents[1], 12, 12)
    header = cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, budget, chars, FimTokens())
    text_tokens = sum(len(p) for p in header.parts if isinstance(p, str))
    specials = sum(isinstance(p, Special) for p in header.parts)
    assert text_tokens + specials <= budget
    assert header.tokens <= budget
    if budget >= 2000:
        assert "pricing.js" in flat(header.parts)  # the recent edit, once there is room


@pytest.mark.parametrize(
    ("documents", "budget", "markers"),
    [
        ((), 400, FimTokens()),  # no other document
        ((snapshot("inventory.py", "python", INVENTORY_PY),), 0, FimTokens()),  # off
        # a model without repository tokens
        ((snapshot("inventory.py", "python", INVENTORY_PY),), 400, FimTokens(repo_name="")),
        # nothing the code near the cursor uses, nothing edited
        ((snapshot("orders.go", "go", ORDERS_GO),), 400, FimTokens()),
    ],
)
def test_no_header_leaves_the_prompt_as_before(
    documents: tuple[Snapshot, ...], budget: int, markers: FimTokens
) -> None:
    cross = context(*documents)
    header = cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, budget, chars, markers)
    assert header.parts == ()
    window = fim_window(CHECKOUT_PY, CURSOR, chars, 384, 96)
    assert fim_prompt(window, markers, header.parts) == fim_prompt(window, markers)


def test_header_is_stable_while_typing_on_a_line() -> None:
    cross = context(
        snapshot("inventory.py", "python", INVENTORY_PY),
        snapshot("pricing.js", "javascript", PRICING_JS),
    )
    headers = set()
    # names typed on the line that another file defines would change it if they counted
    for typed in ["", "r", "return ", "return long_report(", "return long_report(Bin"]:
        text = CHECKOUT_PY[:CURSOR] + typed + CHECKOUT_PY[CURSOR:]
        header = cross.header(CHECKOUT_URI, text, CURSOR + len(typed), 2000, chars, FimTokens())
        headers.add(flat(header.parts))
    assert len(headers) == 1 and headers != {""}


def test_names_near_leave_out_the_cursor_line() -> None:
    text = CHECKOUT_PY[:CURSOR] + "return restock_threshold(" + CHECKOUT_PY[CURSOR:]
    near = names_near(text, CURSOR + 5)
    assert "reserve_units" in near.above and "restock_threshold" not in near.above
    assert near.imported == ["inventory", "restock_threshold"]  # Warehouse is used above


@pytest.mark.parametrize(
    ("cursor_line", "above", "below"),
    [
        (3, ["name_0", "name_15"], ["name_16", "name_31"]),
        (20, ["name_0", "name_31"], ["name_32", "name_47"]),
        (31, ["name_0", "name_30"], ["name_32", "name_47"]),
        (40, ["name_16", "name_47"], ["name_48", "name_59"]),
    ],
)
def test_names_come_from_snapped_blocks(
    cursor_line: int, above: list[str], below: list[str]
) -> None:
    lines = [f"x = name_{i}" for i in range(60)]
    text = "\n".join(lines)
    offset = sum(len(line) + 1 for line in lines[:cursor_line])
    near = names_near(text, offset)
    assert f"name_{cursor_line}" not in near.above + near.below
    assert sorted(near.above, key=lambda n: int(n[5:]))[:: len(near.above) - 1] == above
    assert sorted(near.below, key=lambda n: int(n[5:]))[:: len(near.below) - 1] == below


def test_the_current_files_chunks_and_near_copies_are_not_used() -> None:
    inventory = snapshot("inventory.py", "python", INVENTORY_PY)
    checkout = Snapshot.build(CHECKOUT_URI, "python", 1, CHECKOUT_PY)
    # a file that holds a copy of the code around the cursor (a backup, a pasted block)
    copy = snapshot("checkout_old.py", "python", CHECKOUT_PY)
    cross = context(inventory, checkout, copy)
    cross.record_edit(checkout, 5, 5)
    cross.record_edit(copy, 5, 5)
    assert [c.uri for c in cross.ring.chunks()] == [CHECKOUT_URI, copy.uri] or len(
        cross.ring.chunks()
    ) == 1  # the copy may have replaced the original in the ring (near-copy dedup)
    text = flat(cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens()).parts)
    assert "checkout_old.py" not in text
    assert text.count("<|file_sep|>checkout.py") == 1  # only as the current file


def test_a_name_the_file_defines_itself_is_not_looked_up_elsewhere() -> None:
    local = CHECKOUT_PY + "\ndef restock_threshold(x):\n    return 1\n"
    text = flat(
        context(snapshot("inventory.py", "python", INVENTORY_PY))
        .header(CHECKOUT_URI, local, CURSOR, 2000, chars, FimTokens())
        .parts
    )
    assert "def restock_threshold" not in text
    assert "reserve_units" in text


def test_order_does_not_depend_on_the_order_documents_are_listed() -> None:
    documents = [
        snapshot("inventory.py", "python", INVENTORY_PY),
        snapshot("pricing.js", "javascript", PRICING_JS),
        snapshot("orders.go", "go", ORDERS_GO),
    ]
    first = context(*documents)
    second = context(*reversed(documents))
    for cross in (first, second):
        for document in documents:
            cross.record_edit(document, 3, 3)
    one = first.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens())
    two = second.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens())
    assert one.parts == two.parts
    paths = [line for line in flat(one.parts).split("\n") if "<|file_sep|>" in line]
    assert paths == sorted(paths[:-1]) + [paths[-1]]


def test_chunk_end_line() -> None:
    assert Chunk("file:///a.py", 8, ("a", "b")).end_line == 10


# --------------------------------------------------------------------------- wired in


async def test_the_completion_prompt_starts_with_the_header_only_when_enabled() -> None:
    backend = FakeBackend({})
    store = DocumentStore()
    store.open(f"file://{ROOT}/inventory.py", "python", 1, INVENTORY_PY)
    document = store.open(CHECKOUT_URI, "python", 1, CHECKOUT_PY)
    cross = CrossFileContext(store.snapshots, lambda: ROOT)
    prompts = []
    for budget in (256, 0):
        settings = dataclasses.replace(  # (no cold cut: a cut prompt leaves other files out)
            Settings(),
            crossFileTokens=budget,
            speculation=False,
            blockPrompt="fim",
            coldPromptSeconds=0.0,
        )
        worker = ModelWorker()
        await worker.load_async(lambda: backend)
        service = CompletionService(worker, lambda s=settings: s, FimTokens, cross)
        snapshot_ = document.snapshot()
        line, column = snapshot_.position_at(CURSOR)
        await service.complete(snapshot_, line, column, lambda: True)
        prompts.append(backend.calls[-1])
        await worker.close()
    with_header, without = prompts
    assert with_header.startswith("<|repo_name|>shop\n<|file_sep|>inventory.py\n")
    assert without.startswith("<|fim_prefix|>")
    assert (
        with_header.endswith(without) and "<|file_sep|>checkout.py\n<|fim_prefix|>" in with_header
    )
    await asyncio.sleep(0)


# --------------------------------------------------------------------------- refused documents


def test_a_refused_document_enters_no_ring_and_no_header() -> None:
    """Private (or too large) documents: admission.py decides, the context obeys, also for
    chunks recorded before a setting changed."""
    inventory = snapshot("inventory.py", "python", INVENTORY_PY)
    refused = {inventory.uri}
    cross = CrossFileContext(
        lambda: [inventory],
        lambda: ROOT,
        lambda uri, text: Verdict("private", ".env*") if uri in refused else ADMITTED,
    )
    cross.record_edit(inventory, 20, 20)
    assert cross.ring.chunks() == ()
    header = cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens())
    assert header.parts == () and header.snippets == ()

    refused.clear()  # admitted: its definitions and its edit are used
    cross.record_edit(inventory, 20, 20)
    assert flat(cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens()).parts)
    refused.add(inventory.uri)  # refused again (a setting changed): the old chunk is not used
    assert cross.ring.chunks()
    assert cross.header(CHECKOUT_URI, CHECKOUT_PY, CURSOR, 2000, chars, FimTokens()).parts == ()
    cross.record_edit(inventory, 30, 30)  # and the next edit forgets it
    assert cross.ring.chunks() == ()
