"""Reading order on hand-built pages, for the shipped learned model and the XY-cut baseline.

Each page is laid out like a 200 dpi A4 scan (36 px body lines), its lines handed over in a
shuffled order; the assertions are on the exact reading order and on the paragraphs.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from polyocr.document import Line, quad_from_box
from polyocr.eval.metrics import order_accuracy, paragraph_f1
from polyocr.pipeline.order import (METHODS, NoOrderWeights, Orderer, _gaps, best_rotation, chain_decode, column_switches,
                                    frame_boxes, line_features, path_score, relocate_segments, runs_to_paragraphs, skew_angle,
                                    xycut_order)

W, H = 1654, 2339
BODY, PITCH = 36, 52

EN = ("the committee met on tuesday to review the budget for the coming year and agreed that most "
      "of the proposals needed more work before a vote could be taken by the members present").split()
HE = "הוועדה התכנסה ביום שלישי כדי לדון בתקציב של השנה הבאה והסכימה שרוב ההצעות דורשות עבודה נוספת".split()
JA = "委員会は火曜日に開かれ来年度の予算について話し合い多くの提案にはさらに検討が必要だと結論した"


def hline(key: str, x0: float, y0: float, x1: float, h: float = BODY, lang: str = "en", direction: str = "ltr") -> Line:
    words = HE if lang == "he" else EN
    n = max(1, int((x1 - x0) / (h * 2.8)))
    k = sum(map(ord, key)) % len(words)
    text = " ".join((words * 3)[k:k + n])
    return Line(text=text, polygon=quad_from_box(x0, y0, x1, y0 + h), language=lang, direction=direction, id=key)


def vline(key: str, x_right: float, y0: float, y1: float, w: float = BODY) -> Line:
    x0 = x_right - w
    n = max(1, int((y1 - y0) / w))
    k = sum(map(ord, key)) % len(JA)
    text = (JA * 3)[k:k + n]
    poly = ((x_right, y0), (x_right, y1), (x0, y1), (x0, y0))  # vertical-rl quads start at the top-right
    return Line(text=text, polygon=poly, language="ja", writing_mode="vertical-rl", id=key)


def column(prefix: str, x0: float, x1: float, y: float, paragraphs: list[int], **kw) -> tuple[list[Line], list[list[str]], float]:
    """Paragraphs of n lines each (the last line of each shorter), separated by half a line of space."""
    lines, groups = [], []
    for p, n in enumerate(paragraphs):
        group = []
        for i in range(n):
            last = i == n - 1
            key = f"{prefix}{p}.{i}"
            if kw.get("direction") == "rtl":
                ln = hline(key, x0 + (x1 - x0) * 0.45 if last else x0, y, x1, **kw)
            else:
                ln = hline(key, x0, y, x0 + (x1 - x0) * 0.55 if last else x1, **kw)
            lines.append(ln)
            group.append(key)
            y += PITCH
        groups.append(group)
        y += PITCH * 0.6
    return lines, groups, y


def two_columns(rtl: bool) -> tuple[list[Line], list[list[str]]]:
    kw = {"lang": "he", "direction": "rtl"} if rtl else {}
    title = hline("title", 420, 150, 1234, h=64, **kw)
    first, second = (857, 1504), (150, 797)
    if not rtl:
        first, second = second, first
    a, ga, _ = column("a", *first, 300, [5, 4, 6], **kw)
    b, gb, _ = column("b", *second, 300, [7, 3, 4], **kw)
    footer = hline("footer", 808, 2200, 846, h=30, **kw)
    footer.text = "7"
    return [title, *a, *b, footer], [["title"], *ga, *gb, ["footer"]]


def vertical_page() -> tuple[list[Line], list[list[str]]]:
    lines, groups = [], []
    x = 1500.0
    for p, n in enumerate([6, 4, 5]):
        group = []
        for i in range(n):
            key = f"v{p}.{i}"
            lines.append(vline(key, x, 150, 1300 if i == n - 1 else 2150))
            group.append(key)
            x -= 62
        groups.append(group)
        x -= 40
    return lines, groups


def table_page() -> tuple[list[Line], list[list[str]]]:
    title = hline("title", 150, 150, 900, h=56)
    lines, groups = [title], [["title"]]
    edges = [150, 700, 1100, 1504]
    cells = [("Item", "Quantity", "Price"), ("Apples", "12", "3.40"), ("Fresh bread", "1", "2.10"),
             ("Olive oil", "2", "11.80"), ("Green tea", "4", "6.00"), ("Rice", "5", "9.95")]
    y = 300
    for r, row in enumerate(cells):
        for c, text in enumerate(row):
            x0 = edges[c] + 20
            x1 = x0 + 24 * len(text)
            key = f"r{r}c{c}"
            lines.append(Line(text=text, polygon=quad_from_box(x0, y, x1, y + BODY), language="en", id=key))
            groups.append([key])
        y += 80
    para, gp, _ = column("p", 150, 1504, y + 80, [3])
    return lines + para, groups + gp


PAGES = {"two-column": lambda: two_columns(False), "rtl-two-column": lambda: two_columns(True),
         "vertical-rl": vertical_page, "table": table_page}


@pytest.fixture(scope="module")
def orderers() -> dict[str, Orderer]:
    return {m: Orderer(m) for m in METHODS}


def run(orderer: Orderer, lines: list[Line], seed: int = 0, direction: str | None = None):
    shuffled = lines[:]
    random.Random(seed).shuffle(shuffled)
    blocks = orderer(shuffled, W, H, direction)
    return blocks, [ln.id for b in blocks for ln in b.lines], [[ln.id for ln in b.lines] for b in blocks]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(PAGES))
def test_exact_order_on_hand_built_pages(orderers, method, name):
    lines, groups = PAGES[name]()
    truth = [k for g in groups for k in g]
    for seed in (0, 1):  # the input order must not matter
        blocks, order, paragraphs = run(orderers[method], lines, seed)
        assert order == truth, f"{method} on {name}: acc {order_accuracy(order, truth):.3f}\n{order}"
    assert paragraph_f1(paragraphs, groups) >= 0.8, (method, name, paragraphs)
    assert [b.order for b in blocks] == list(range(len(blocks)))
    assert all(b.kind == "paragraph" for b in blocks)


@pytest.mark.parametrize("method", METHODS)
def test_blocks_contract(orderers, method):
    lines, _ = two_columns(False)
    blocks, order, _ = run(orderers[method], lines, direction="ltr")
    assert sorted(order) == sorted(ln.id for ln in lines) and len(order) == len(lines)
    by_id = {ln.id: ln for ln in lines}
    for b in blocks:
        assert all(ln is by_id[ln.id] for ln in b.lines)  # the caller's Line objects, untouched
        xs = [p[0] for ln in b.lines for p in ln.polygon]
        ys = [p[1] for ln in b.lines for p in ln.polygon]
        assert (min(p[0] for p in b.polygon), min(p[1] for p in b.polygon)) == (min(xs), min(ys))
        assert (max(p[0] for p in b.polygon), max(p[1] for p in b.polygon)) == (max(xs), max(ys))
        assert b.language == "en"
    assert orderers[method]([], W, H) == []
    single = orderers[method](lines[:1], W, H)
    assert len(single) == 1 and single[0].lines == lines[:1]


def test_vertical_blocks_start_top_right(orderers):
    lines, _ = vertical_page()
    blocks = orderers["learned"](lines, W, H)
    x0, y0 = blocks[0].polygon[0]
    assert x0 == max(p[0] for p in blocks[0].polygon) and y0 == min(p[1] for p in blocks[0].polygon)


def test_skewed_page_is_straightened(orderers):
    """A page turned by 2°: rows overlap in y before deskewing; both methods still read it right."""
    lines, groups = two_columns(False)
    a = np.deg2rad(2.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    turned = [Line(text=ln.text, polygon=tuple(map(tuple, (np.asarray(ln.polygon) - [W / 2, H / 2]) @ rot.T + [W / 2, H / 2])),
                   language=ln.language, id=ln.id) for ln in lines]
    assert abs(skew_angle(turned) - a) < 1e-6
    truth = [k for g in groups for k in g]
    for method, orderer in orderers.items():
        _, order, _ = run(orderer, turned)
        assert order_accuracy(order, truth) >= 0.95, method


def test_frames_make_every_page_left_to_right():
    lines, _ = two_columns(True)
    fb = frame_boxes(lines, W, H, "rtl")
    title = next(i for i, ln in enumerate(lines) if ln.id == "title")
    right_col = next(i for i, ln in enumerate(lines) if ln.id == "a0.0")
    assert fb[right_col, 0] < 200  # the right column starts the mirrored frame
    assert fb[title, 0] == pytest.approx(W - 1234)
    vl, _ = vertical_page()
    fv = frame_boxes(vl, W, H)
    assert fv[0, 1] < fv[1, 1] and fv[0, 0] == pytest.approx(150)  # rightmost column → first horizontal line


def test_features_are_finite_and_sized():
    lines, _ = table_page()
    feats, geom = line_features(lines, W, H)
    assert feats.shape == (len(lines), 26) and geom.shape == (len(lines), 8)
    assert np.isfinite(feats).all() and np.isfinite(geom).all()
    assert feats[:, 18].max() == 1.0  # Latin script share


def test_chain_decode_follows_scores_and_always_returns_a_permutation():
    rng = np.random.default_rng(0)
    perm = rng.permutation(40)
    score = rng.normal(0, 1, (40, 40))
    score[perm[:-1], perm[1:]] += 20
    assert chain_decode(score) == perm.tolist()
    for n in (0, 1, 2, 5, 37):
        out = chain_decode(rng.normal(0, 1, (n, n)))
        assert sorted(out) == list(range(n))
    same = np.zeros((5, 5))
    same[0, 1] = same[2, 3] = same[3, 4] = 0.9
    assert runs_to_paragraphs([0, 1, 2, 3, 4], same) == [[0, 1], [2, 3, 4]]


def test_a_rotated_path_is_turned_back():
    """Links 0→1→…→9 are likely, 9→0 (bottom of a page to its top) is not: a path that starts in the
    middle and wraps from 9 to 0 is cut at that link instead, and a right path is left alone."""
    score = np.full((10, 10), -5.0)
    for i in range(9):
        score[i, i + 1] = 3.0
    rotated = [6, 7, 8, 9, 0, 1, 2, 3, 4, 5]
    fixed = best_rotation(score, rotated)
    assert fixed == list(range(10)) and path_score(score, fixed) > path_score(score, rotated)
    assert best_rotation(score, list(range(10))) == list(range(10))
    assert best_rotation(score, [1, 0]) == [1, 0]


def test_a_misplaced_run_of_lines_is_moved_back():
    """Two lines from near the bottom joined in front of the title: no rotation repairs that path, but
    moving the run back between its neighbours does, and only moves that raise the score are made."""
    score = np.full((12, 12), -5.0)
    for i in range(11):
        score[i, i + 1] = 3.0
    wrong = [8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 10, 11]
    assert best_rotation(score, wrong) == wrong
    assert relocate_segments(score, wrong) == list(range(12))
    assert relocate_segments(score, list(range(12))) == list(range(12))
    rng = np.random.default_rng(3)
    for n in (0, 1, 3, 4, 9, 40):
        m = rng.normal(0, 2, (n, n))
        start = rng.permutation(n).tolist()
        out = relocate_segments(m, start)
        assert sorted(out) == list(range(n)) and path_score(m, out) >= path_score(m, start) - 1e-9


def test_learned_order_keeps_xycut_where_the_model_scores_it_higher(orderers):
    # Three stacked lines. Greedy chain decoding takes the single best edge 0 -> 2 first and is left
    # with a path the model itself scores at -5; XY-cut's top-to-bottom 0 -> 1 -> 2 scores 8.
    lines = [hline(k, 200, 300 + 80 * i, 1400) for i, k in enumerate("abc")]
    score = np.full((3, 3), -10.0)
    score[0, 2], score[0, 1], score[1, 2] = 5.0, 4.0, 4.0
    assert path_score(score, chain_decode(score)) == -5.0 and path_score(score, [0, 1, 2]) == 8.0
    learned = orderers["learned"]
    real = learned.scores
    try:
        learned.scores = lambda *args, **kw: (score, np.zeros((3, 3)))
        assert [i for g in learned.order(lines, W, H) for i in g] == [0, 1, 2]
        score[1, 0] = score[2, 1] = 9.0                                # now the model prefers 2, 1, 0
        assert [i for g in learned.order(lines, W, H) for i in g] == [2, 1, 0]
    finally:
        learned.scores = real


def test_learned_order_never_interleaves_text_columns(orderers):
    # The model scores reading across the page row by row (through both columns) above everything:
    # the decoder must still read down one column, then the other, as XY-cut does.
    lines, groups = two_columns(False)
    ids = [ln.id for ln in lines]
    boxes = frame_boxes(lines, W, H)
    row_major = sorted(range(len(lines)), key=lambda i: (round(boxes[i, 1] / PITCH), boxes[i, 0]))
    score = np.full((len(lines), len(lines)), -10.0)
    for a, b in zip(row_major, row_major[1:]):
        score[a, b] = 10.0
    assert column_switches(boxes, row_major) > column_switches(boxes, xycut_order(boxes)) >= 1
    assert path_score(score, chain_decode(score)) > path_score(score, xycut_order(boxes))
    learned = orderers["learned"]
    real = learned.scores
    try:
        learned.scores = lambda *args, **kw: (score, np.zeros(score.shape))
        got = [ids[i] for g in learned.order(lines, W, H) for i in g]
    finally:
        learned.scores = real
    assert got == [k for g in groups for k in g]


def test_a_gutter_is_found_when_line_ends_fall_inside_it():
    # Two columns [0, 100] and [160, 260]; one line of each reaches into the gutter (to 125, from
    # 140). Each sub-interval of the valley is narrower than 40, the valley (100-160) is not.
    lo = np.array([0.0] * 6 + [160.0] * 6 + [0.0, 140.0])
    hi = np.array([100.0] * 6 + [260.0] * 6 + [125.0, 260.0])
    assert _gaps(lo, hi, 40.0, tol=2) == [(100.0, 160.0)]
    assert _gaps(lo, hi, 40.0, tol=0) == []


def test_first_lines_reaching_into_a_gutter_are_no_title():
    # Three justified columns of 20 lines, ragged by a few pixels at their inner edges, and one line
    # merged across each gutter (so the gutters are found with crossings allowed, their valleys
    # starting inside the ragged edges). The first line of every column reaches furthest into the
    # gutters: it is still read as its column's first line, not as a title row above the columns.
    cols = [(90.0, 540.0), (600.0, 1050.0), (1110.0, 1560.0)]
    boxes, want = [], []
    for c, (x0, x1) in enumerate(cols):
        for r in range(20):
            y = 100.0 + 50.0 * r
            left = x0 - (8.0 if r == 0 else (r % 5)) if c else x0
            right = x1 + (8.0 if r == 0 else (r % 5)) if c < 2 else x1
            want.append(len(boxes))
            boxes.append((left, y, right, y + 24.0))
    for c in (0, 1):   # a detection that ran across the gutter, mid-column
        boxes.append((cols[c][1] - 100.0, 100.0 + 50.0 * 25, cols[c + 1][0] + 100.0, 100.0 + 50.0 * 25 + 24.0))
    boxes = np.array(boxes)
    order = xycut_order(boxes)
    body = [i for i in order if i < 60]
    assert body == want                                        # down column 1, then 2, then 3
    assert column_switches(boxes, order) <= 4
    # a title over the middle column, as wide as its first line, has its row to itself: read first
    titled = np.vstack([boxes, [[592.0, 30.0, 1058.0, 66.0]]])
    assert xycut_order(titled)[0] == len(titled) - 1


def test_a_heading_cut_at_the_gutter_is_read_before_the_columns():
    # Two columns; the centred heading above them was cut at the gutter into "5. Кто" | "кричит":
    # both pieces come first, left to right, then the columns top to bottom. Two short first lines
    # that do not run up to the gutter are the columns' own.
    cols = [(160.0, 810.0), (850.0, 1500.0)]
    boxes = [(x0 - (3.0 if c else 0.0), 220.0 + 40.0 * r, x1 + (0.0 if c else 3.0), 236.0 + 40.0 * r)
             for c, (x0, x1) in enumerate(cols) for r in range(25)]
    boxes[26] = (cols[1][0] + 300.0, boxes[26][1], cols[1][1], boxes[26][3])     # a ragged line, not a gutter
    heading = [(735.0, 170.0, 805.0, 192.0), (826.0, 170.0, 924.0, 192.0)]
    b = np.array(boxes + heading)
    order = xycut_order(b)
    assert order[:2] == [50, 51] and order[2:] == list(range(50))
    # the same two pieces, but as the first lines of the columns (far from the gutter): not a heading
    firsts = np.array(boxes + [(160.0, 170.0, 300.0, 192.0), (850.0, 170.0, 990.0, 192.0)])
    order = xycut_order(firsts)
    assert order.index(50) < order.index(0) and order.index(51) > order.index(24)


def test_a_running_header_and_a_title_over_one_column_come_before_the_columns():
    # Three columns of 20 lines; above them, each in a white band across the page, a running header
    # at the top right (over column 3) and a title centred over column 2 as wide as its lines (its
    # row is its own). Before: the header was read last and the title after column 1 (ru-s0-00007).
    cols = [(90.0, 540.0), (600.0, 1050.0), (1110.0, 1560.0)]
    boxes = [(x0, 240.0 + 50.0 * r, x1, 264.0 + 50.0 * r) for x0, x1 in cols for r in range(20)]
    header, title = (1380.0, 110.0, 1560.0, 130.0), (620.0, 170.0, 1030.0, 206.0)
    b = np.array(boxes + [header, title])
    order = xycut_order(b)
    assert order[:2] == [60, 61] and order[2:] == list(range(60))
    # lines over two columns in the top band are the columns' own first row: left where they are
    firsts = np.array(boxes + [(90.0, 170.0, 400.0, 206.0), (600.0, 170.0, 900.0, 206.0)])
    order = xycut_order(firsts)
    assert order.index(60) < order.index(0) and order.index(61) > order.index(19)


def test_order_metrics():
    truth = ["a", "b", "c", "d", "e"]
    assert order_accuracy(truth, truth) == 1.0
    assert order_accuracy(["c", "d", "e", "a", "b"], truth) == 0.75  # two columns swapped: one transition lost
    assert order_accuracy(["e", "d", "c", "b", "a"], truth) == 0.0
    assert order_accuracy(["x"], ["x"]) == 1.0
    assert paragraph_f1([["a", "b"], ["c"]], [["b", "a"], ["c"]]) == 1.0
    assert paragraph_f1([["a", "b", "c"]], [["a", "b"], ["c"]]) == 0.0
    assert paragraph_f1([["a"], ["b"], ["c"]], [["a", "b"], ["c"]]) == pytest.approx(2 * 1 / 5)


def test_missing_weights_and_bad_method(tmp_path):
    with pytest.raises(NoOrderWeights, match="order.json"):
        Orderer("learned", weights=tmp_path)
    with pytest.raises(ValueError, match="order method"):
        Orderer("magic")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rtl", [False, True])
def test_title_cut_beside_the_gutter_is_read_first(orderers, method, rtl):
    """A heading over two columns that the detector cut at a word gap just past the gutter: one piece
    ends inside the gutter, the other starts beyond it (more than a line height past it, as on
    he-s0-00007). The gap between them is narrower than the gutter, so they are one heading, read
    before both columns, not the first row of the second column."""
    lines, groups = two_columns(rtl)
    kw = {"lang": "he", "direction": "rtl"} if rtl else {}
    a, b = (hline("title.b", 600, 150, 845, h=64, **kw), hline("title.a", 900, 150, 1100, h=64, **kw)) if rtl else \
        (hline("title.a", 600, 150, 845, h=64, **kw), hline("title.b", 900, 150, 1100, h=64, **kw))
    lines = [a, b] + [ln for ln in lines if ln.id != "title"]
    truth = ["title.a", "title.b"] + [k for g in groups[1:] for k in g]
    _, order, _ = run(orderers[method], lines, direction="rtl" if rtl else "ltr")
    assert order[:2] == ["title.a", "title.b"], order[:6]
    assert order_accuracy(order, truth) >= 0.95
