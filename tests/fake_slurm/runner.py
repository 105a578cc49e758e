"""Runs the tasks of a fake array job in order, with the environment Slurm would give them,
and records each task's end state for the fake sacct."""
import os, pathlib, re, shlex, subprocess, sys, time

job, script = sys.argv[1], pathlib.Path(sys.argv[2])
fake = script.parent
text = script.read_text()
array = re.search(r"--array=(\d+)-(\d+)", text)  # submitit submits a single task as a plain job
lo, hi = map(int, array.groups()) if array else (0, 0)
folder = shlex.split(text.strip().splitlines()[-1])[-1]  # ... _submit FOLDER
for task in range(lo, hi + 1):
    job_id = f"{job}_{task}" if array else job
    pickle = pathlib.Path(folder.replace("%j", job_id)) / f"{job_id}_submitted.pkl"
    end = time.time() + 60
    while not pickle.exists() and time.time() < end:  # submitit moves it after sbatch returns
        time.sleep(0.1)
    (fake / f"state-{job_id}").write_text("RUNNING")
    env = {**os.environ, "SLURM_NTASKS": "1", "SLURM_JOB_NUM_NODES": "1", "SLURM_NODEID": "0",
           "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_JOB_NODELIST": "localhost"}
    env.update({"SLURM_JOB_ID": str(int(job) + 1 + task), "SLURM_ARRAY_JOB_ID": job,
                "SLURM_ARRAY_TASK_ID": str(task)} if array else {"SLURM_JOB_ID": job})
    code = subprocess.run(["bash", str(script)], env=env).returncode
    (fake / f"state-{job_id}").write_text("COMPLETED" if code == 0 else "FAILED")
