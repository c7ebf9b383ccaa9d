"""FORMAT.md Appendix B shows two small files byte by byte: every row of its tables is what the
library writes, at the offset the row gives (a row with `..` shortens zero runs and is skipped
where it does; its neighbours pin its length)."""
import re
from pathlib import Path

import numpy as np

import spikecodec

FORMAT = Path(__file__).resolve().parents[2] / "FORMAT.md"
A = np.array([[1, 0, 1], [0, 1, 1]], np.uint8)


def appendix_tables() -> list[list[tuple[int, str]]]:
    text = FORMAT.read_text()
    appendix = text[text.index("## Appendix B."):]
    tables, rows = [], []
    for line in appendix.splitlines():
        m = re.match(r"^\| (\d+) \| `([0-9a-f .]+)` \|", line)
        if m:
            rows.append((int(m.group(1)), m.group(2)))
        elif rows:
            tables.append(rows)
            rows = []
    if rows:
        tables.append(rows)
    return tables


def test_appendix_b_is_what_the_library_writes():
    classic = spikecodec.encode(A, codec="raw", axes="TN")
    compact = spikecodec.encode(A, codec="raw", chunk=[1], records="compact-unkeyed", axes="TN")
    assert (len(classic), len(compact)) == (188, 131)
    tables = appendix_tables()
    assert len(tables) == 2 and len(tables[0]) >= 15 and len(tables[1]) >= 4
    for data, rows in zip((classic, compact), tables):
        for (offset, shown), following in zip(rows, [*(r[0] for r in rows[1:]), len(data)]):
            if ".." in shown:
                continue
            want = bytes.fromhex(shown.replace(" ", ""))
            assert data[offset:offset + len(want)] == want, (offset, shown, data[offset:offset + len(want)].hex(" "))
            assert offset + len(want) == following, (offset, shown)  # rows tile the file
    assert tables[0][0][0] == 0 and tables[1][0][0] == 88
