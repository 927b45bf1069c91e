import os
import runpy
import time

from pyinstrument import Profiler

p = Profiler(interval=0.005)
t0 = time.perf_counter()
p.start()
try:
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.py"), run_name="__main__")
finally:
    p.stop()
    with open(os.environ["PROF_OUT"], "a") as f:
        f.write(f"==== run {time.time():.2f} took {time.perf_counter() - t0:.2f}s\n")
        f.write(p.output_text(unicode=False, show_all=False))
