"""How long grouping the unanswered questions takes: 10,000 stored questions, and how it grows.

    python benchmarks/grouping.py [--n 10000] [--sizes 2500,5000,10000]

Writes N made-up unanswered questions (templates below: 120 subjects in 40 wordings, with
ages and relations, so most texts are distinct) into a fresh SQLite log, then times:
- the first grouping, which embeds each question once with the sentence model and keeps the
  vector in the log (a one-off per question: on a live server it is spread over the day);
- grouping again, as the editors' page and `editors unanswered` do (the figure that must stay
  under 2 s for 10,000), at several sizes, to show the growth (n log n: HNSW neighbours);
- placing the 100 biggest groups against the knowledge base (the page shows 100 a list).
Nothing here reads the held-out sets.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.editors.desk import Desk  # noqa: E402
from bot.editors.grouping import _FEATURES  # noqa: E402
from bot.signpost import build_replies  # noqa: E402
from bot.store import LogRecord, SQLiteStore  # noqa: E402

SUBJECTS = """an autism friendly dentist|a dentist who understands SEND|swimming lessons for disabled children|
a sensory room|a wheelchair accessible playground|a SEND friendly hairdresser|a football club for autistic kids|
help with toilet training|nappies for an older child|a car seat for a disabled child|a trampoline park quiet session|
a holiday club with 1 to 1 support|help with a child eating non food things|help with head banging|
a weighted blanket|a sleep clinic|melatonin prescriptions|a private speech therapist|horse riding for disabled children|
a cinema autism friendly screening|music therapy|a support group for dads|a support group for grandparents|
help with sibling jealousy|help with school uniform for sensory needs|a tablet for communication|
a wheelchair repair|a changing places toilet|a disabled parking space outside our house|help with a garden fence|
a ramp for our front door|a stairlift for a child|help paying for a specialist bike|a quiet space at a supermarket|
sensory friendly shopping hours|respite at a weekend|a babysitter who knows autism|a nanny for a disabled child|
help with hair washing meltdowns|help with tooth brushing|a specialist shoe fitting|splints for my son|
glasses for a child who will not wear them|hearing aid batteries|a cochlear implant group|a deaf club for teenagers|
sign language classes for parents|braille books|a guide dog for a teenager|an assistance dog for autism|
help with a child who runs off|a GPS tracker for a child|a safe bed|a padded room|help with self harm scratching|
help with food refusal|a feeding clinic|a tube feeding support group|help with constipation|a continence nurse|
a wheelchair taxi|a bus pass for a carer|a railcard for a disabled teen|a passport photo for a child who cannot sit still|
help filling in a passport form|a haircut at home|a photographer who is patient|a birthday party venue|
a church group for SEND families|a youth club for teenagers with learning disabilities|a job for my autistic son|
volunteering for a young person with ADHD|driving lessons for an autistic teenager|a gym for disabled teens|
a dance class for children with Down syndrome|a drama group for SEND children|an art class for autistic children|
a chess club for neurodivergent kids|a coding club for autistic teens|a scout group with support|
a swimming pool with a hoist|a beach wheelchair|a caravan holiday for disabled families|a farm visit that is quiet|
a zoo with a quiet hour|a library sensory story time|a toy library|adapted toys|a sensory garden|a soft play quiet session|
a nursery with SEND experience|a childminder for a child with epilepsy|epilepsy training for grandparents|
a seizure alarm|a medical bracelet|a first aid course for parents|an allergy clinic|an eczema clinic|
a dietitian for a fussy eater|a sensory feeding specialist|a physio at weekends|a hydrotherapy pool|
a rebound therapy session|a climbing wall for disabled kids|a bike for a child with cerebral palsy|
a buggy for an older disabled child|a wheelchair accessible holiday cottage|a taxi that takes wheelchairs|
a mentor for an autistic teen|counselling for a sibling|a bereavement group for children|a parenting course for ADHD|
a course about PDA|a talk about sensory processing|training about autism for family|a carers card|
a discount card for carers|help with energy bills for medical equipment|help with washing costs for incontinence""".replace("\n", "").split("|")
WORDINGS = """is there {s} in hereford|where can i find {s}|do you know {s} near me|any ideas for {s}|
looking for {s} for my {r}|my {r} needs {s}|can anyone recommend {s}|we need {s} for our {a} year old|
hi, is there {s} around leominster|help finding {s} please|does the council fund {s}|how do i get {s}|
who provides {s} locally|is {s} free for SEND families|my {r} is {a} and autistic, is there {s}|
need {s} asap|where is {s} in herefordshire|what about {s}|can my {r} get {s}|is there funding for {s}|
struggling to find {s}|any recommendations for {s} for a {a} year old|best place for {s}|
is there {s} that is good with autism|is there {s} that is good with adhd|we moved here, where is {s}|
our {r} has down syndrome, is there {s}|my {r} uses a wheelchair, is there {s}|
how much does {s} cost|waiting list for {s}|can school arrange {s}|can the GP refer us to {s}|
does anyone run {s}|{s} for a child with cerebral palsy|{s} in ross on wye|{s} in ledbury|
{s} in kington|{s} in bromyard|where to get {s} for my {a}yo|is there {s} for my {r} who is nonverbal""".replace(
    "\n", "").split("|")
RELATIONS = "son daughter child boy girl grandson granddaughter stepson foster child little one".split(" ")


def questions(n: int, seed: int = 0) -> list[str]:
    pick = random.Random(seed)
    return [pick.choice(WORDINGS).format(s=pick.choice(SUBJECTS).strip(), r=pick.choice(RELATIONS),
                                         a=pick.randint(2, 17)) for _ in range(n)]


async def write_log(path: Path, texts: list[str]) -> None:
    async with SQLiteStore(path) as store:
        for i, text in enumerate(texts):
            await store.log(LogRecord(("sms", "telegram", "whatsapp")[i % 3], f"parent{i % 4000}", text, "unanswered"))


def grouped(path: Path, replies, place_limit: int) -> dict:
    """The editors' groups of a log file's unanswered questions, as the page and the CLI group them."""
    async def run() -> dict:
        async with SQLiteStore(path) as store:
            desk = Desk(store, Path("knowledge"), lambda: replies, lambda: [])
            return await desk.groups("30d", ("unanswered",), place_limit=place_limit)
    return asyncio.run(run())


def timed(work) -> tuple[float, object]:
    """Seconds of CPU this process spent (the machine is shared: wall time says more about the
    neighbours than about us; both are printed)."""
    started, wall = time.process_time(), time.perf_counter()
    result = work()
    timed.wall = time.perf_counter() - wall  # type: ignore[attr-defined]
    return time.process_time() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--sizes", default="2500,5000,10000", help="sizes to time warm grouping at")
    parser.add_argument("--log", metavar="FILE", help="keep the log (and its vectors) here and reuse it next time")
    args = parser.parse_args()
    sizes = sorted({int(x) for x in args.sizes.split(",") if x} | {args.n})
    replies = build_replies(None)
    texts = questions(max(sizes))
    print(f"{len(set(texts))} distinct texts of {len(texts)}")
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(args.log) if args.log else Path(scratch) / "log.sqlite3"
        reused = full.exists()
        if not reused:
            asyncio.run(write_log(full, texts))
        cold, _ = timed(lambda: grouped(full, replies, 0))
        what = "first grouping, vectors already kept in --log" if reused else \
            "first grouping, embedding each question once"
        print(f"{len(texts):>6} questions: {what}: {cold:6.1f} s CPU ({timed.wall:6.1f} s wall)")
        figures = []
        for size in sizes:
            log = Path(scratch) / f"log-{size}.sqlite3"
            shutil.copy(full, log)
            with closing(sqlite3.connect(log)) as db, db:
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("DELETE FROM messages WHERE id > ?", (size,))  # their vectors go with them
            warm, found = timed(lambda: grouped(log, replies, 0))
            groups = found["unanswered"]
            figures.append((size, warm))
            print(f"{size:>6} questions: grouped in {warm:5.2f} s CPU ({timed.wall:5.2f} s wall) into {len(groups)} groups "
                  f"(biggest {groups[0].count}: {groups[0].examples[0]!r})")
        _FEATURES.clear()  # as `editors unanswered` sees it: a fresh process, only the vectors kept in the log
        fresh, _ = timed(lambda: grouped(log, replies, 0))
        print(f"{max(sizes):>6} questions: grouped by a fresh process (the CLI) in {fresh:5.2f} s CPU "
              f"({timed.wall:5.2f} s wall)")
        placing, _ = timed(lambda: grouped(log, replies, 100))
        print(f"{max(sizes):>6} questions: grouped and the 100 biggest groups placed in {placing:5.2f} s CPU "
              f"({timed.wall:5.2f} s wall)")
    (small, t_small), (big, t_big) = figures[0], figures[-1]
    print(f"growth: {big / small:.1f}x the questions took {t_big / t_small:.1f}x the time")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"RESULT {args.n} questions grouped in {dict(figures)[args.n]:.2f} s CPU (target: under 2 s); "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
