#!/usr/bin/env python3
"""Side-by-side table of the zk-bench runs scripts/bench-compare.sh wrote: for each client and
measure, the median and min-max of the old build's repetitions and of the new build's.

usage: python3 scripts/bench-table.py OUTDIR
"""
import sys,re,glob,statistics as st
d=sys.argv[1]
rows={}
for v in ['old','new']:
    for f in sorted(glob.glob(f'{d}/{v}-*.md')):
        txt=open(f).read()
        sec=None
        for line in txt.splitlines():
            if line.startswith('### Pipelined'): sec='pipe'
            elif line.startswith('### One request'): sec='one'
            elif line.startswith('###'): sec=None
            if not line.startswith('| ') or line.startswith('| client') or line.startswith('| ---'): continue
            cells=[c.strip() for c in line.strip('|').split('|')]
            name=cells[0]
            if sec=='pipe' and len(cells)>=8:
                rows.setdefault((name,'getData ops/s'),{}).setdefault(v,[]).append(float(cells[1].rstrip('k'))*1000)
                rows.setdefault((name,'CPU us/getData'),{}).setdefault(v,[]).append(float(cells[6].split()[0]))
                rows.setdefault((name,'CPU us/setData'),{}).setdefault(v,[]).append(float(cells[7].split()[0]))
            elif sec=='one' and len(cells)>=6:
                rows.setdefault((name,'p50 us'),{}).setdefault(v,[]).append(float(cells[1]))
                rows.setdefault((name,'p99 us'),{}).setdefault(v,[]).append(float(cells[3]))
                rows.setdefault((name,'CPU us/op (one at a time)'),{}).setdefault(v,[]).append(float(cells[5].split()[0]))
print('| client | measure | before: median (min-max) | after: median (min-max) | change |')
print('| --- | --- | ---: | ---: | ---: |')
def fmt(x):
    return f'{x/1000:.1f}k' if x>=1000 else f'{x:.2f}' if x<100 else f'{x:.1f}'
for (name,m),vals in rows.items():
    if 'old' not in vals or 'new' not in vals: continue
    o,n=vals['old'],vals['new']
    mo,mn=st.median(o),st.median(n)
    print(f'| {name} | {m} | {fmt(mo)} ({fmt(min(o))}-{fmt(max(o))}) | {fmt(mn)} ({fmt(min(n))}-{fmt(max(n))}) | {100*(mn-mo)/mo:+.0f}% |')
