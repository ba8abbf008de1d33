#!/usr/bin/env python3
"""Deterministic benchmark inputs: short (~12 tokens with [CLS]/[SEP]) and
long (~128 tokens) English sentences of common single-piece words."""
import random, sys
WORDS = ("time person year way day thing man world life hand part child eye woman place work week case point "
         "government company number group problem fact have do say get make go know take see come think look "
         "want give use find tell ask seem feel try leave call good new first last long great little own other old "
         "right big high different small large next early young important few public bad same able search index "
         "query cluster node model graph house water room mother area money story month lot study book job word "
         "business issue side kind head service friend father power hour game line end member law car city name").split()
out = sys.argv[1]
rnd = random.Random(42)
with open(out + "/short.txt", "w") as f:
    for _ in range(512):
        f.write(" ".join(rnd.choice(WORDS) for _ in range(9)).capitalize() + ".\n")
with open(out + "/long.txt", "w") as f:
    for _ in range(256):
        f.write(" ".join(rnd.choice(WORDS) for _ in range(125)).capitalize() + ".\n")
