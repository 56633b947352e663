"""The cost the record journal adds to each synchronous invoke (invocations/journal.py): one
encoded line appended per record before the answer. Run: .venv/bin/python bench/record_journal.py"""
import os, sys, time, tempfile
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django; django.setup()
from pathlib import Path
from django.utils import timezone
from invocations import journal, recorder
from invocations.models import Invocation
log = journal.Journal(Path(tempfile.mkdtemp()), "bench")
def make(n):
    return Invocation(request_id=f"r-{n}", function_name="fn", account_id="123456789012", payload='{"key": "value", "n": %d}' % n,
                      response='{"statusCode": 200, "body": "ok"}', logs="START RequestId: x\nEND\nREPORT RequestId: x Duration: 1.2 ms\n",
                      duration_ms=1.2, created_at=timezone.now(), status="succeeded")
rows = [make(n) for n in range(20000)]
t = time.perf_counter()
gens = [log.append(journal.encode(recorder.values_of(r))) for r in rows]
dt = time.perf_counter() - t
print(f"journal append: {dt / len(rows) * 1e6:.1f} µs per record ({len(rows)} records)")
t = time.perf_counter(); log.committed(gens); print(f"commit bookkeeping: {(time.perf_counter()-t)/len(rows)*1e6:.2f} µs per record")
