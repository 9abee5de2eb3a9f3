"""The paging story as one picture: run a program, then draw its VMAs and its resident pages,
coloured by the kind of fault that brought each in and numbered by first touch (SVG, no deps)."""
import html
import sys

from emulator import Process

COLOURS = {"file": "#4e79a7", "file-private": "#76b7b2", "anon": "#59a14f", "zero": "#bab0ac",
           "cow": "#e15759", "stack": "#f28e2b"}
PAGE = 4096

prog, out = sys.argv[1], sys.argv[2]
p = Process.spawn(prog, [prog], capture=True)
first_touch = {}                                   # page -> (order, kind)


@p.on_fault
def record(ev):
    page = ev.addr & ~(PAGE - 1)
    if ev.kind in COLOURS:
        kind = "stack" if ev.vma is not None and ev.vma.name == "[stack]" and ev.kind == "anon" \
            else ev.kind
        first_touch.setdefault(page, (len(first_touch) + 1, kind))


p.run()
vmas = list(p.mm.vmas)
cell, width, row_h = 10, 64, 14               # 64 pages per row
y = 48
parts = []
for vma in vmas:
    npages = (vma.end - vma.start) // PAGE
    shown = min(npages, 1024)                  # huge reservations are drawn cut
    rows = (shown + width - 1) // width
    name = html.escape(p.mm.vma_name(vma) or "[anon]")
    parts.append(f'<text x="10" y="{y + 11}" font-size="11">{vma.start:#x}-{vma.end:#x} '
                 f'{name} ({npages} pages)</text>')
    y += 16
    for i in range(shown):
        page = vma.start + i * PAGE
        x, yy = 10 + (i % width) * cell, y + (i // width) * row_h
        order, kind = first_touch.get(page, (0, ""))
        fill = COLOURS.get(kind, "#ffffff") if page >> 12 in p.mm.pt else "#ffffff"
        parts.append(f'<rect x="{x}" y="{yy}" width="{cell - 1}" height="{row_h - 2}" '
                     f'fill="{fill}" stroke="#999" stroke-width="0.3"/>')
        if order and page >> 12 in p.mm.pt:
            parts.append(f'<text x="{x + 1}" y="{yy + 9}" font-size="5">{order}</text>')
    y += rows * row_h + 8
legend = " ".join(f'<tspan fill="{c}">■ {k}</tspan>' for k, c in COLOURS.items())
svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{20 + width * cell}" height="{y + 10}" '
       f'font-family="monospace"><rect width="100%" height="100%" fill="white"/>'
       f'<text x="10" y="18" font-size="12">{html.escape(prog)}: {len(p.mm.pt)} resident pages, '
       f'numbered by first touch</text><text x="10" y="34" font-size="12">{legend}</text>'
       f'{"".join(parts)}</svg>')
with open(out, "w") as f:
    f.write(svg)
print(f"wrote {out}: {len(vmas)} VMAs, {len(first_touch)} pages faulted in")
