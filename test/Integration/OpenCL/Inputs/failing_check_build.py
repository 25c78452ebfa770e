"""Makes BUILD_DIR/bin/dynaspa-compile (the real one) and a dynaspa-run
wrapper whose --check always fails: demo.test's failure path.

usage: failing_check_build.py REAL_BUILD_DIR NEW_BUILD_DIR
"""
import os
import sys

real, new = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(new, "bin"), exist_ok=True)
os.makedirs(os.path.join(new, "runtime", "bin"), exist_ok=True)
compiler = os.path.join(new, "bin", "dynaspa-compile")
if not os.path.lexists(compiler):
    os.symlink(os.path.join(real, "bin", "dynaspa-compile"), compiler)
wrapper = os.path.join(new, "runtime", "bin", "dynaspa-run")
with open(wrapper, "w") as f:
    f.write(f"""#!{sys.executable}
import json, subprocess, sys
r = subprocess.run([{os.path.join(real, "runtime", "bin", "dynaspa-run")!r}] + sys.argv[1:],
                   capture_output=True, text=True)
if "--check" not in sys.argv or r.returncode != 0:
    sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); sys.exit(r.returncode)
report = json.loads(r.stdout)
report["check"].update(ok=False, max_rel_err=1.0)
print(json.dumps(report))
sys.exit(3)
""")
os.chmod(wrapper, 0o755)
