"""Training jobs for the app: one run of lstmviz.train.train in a child process, watched from a Streamlit page.

One concern per module:
- `spec`: what a run is (JobSpec: plain values that cross to the child, their limits, a duration estimate);
- `protocol`: the child process (how it is launched, the JSON lines it reads and writes, training and saving);
- `journal`: the small file each run leaves in the user models folder, so a server restart loses nothing;
- `runs`: the server's side (TrainingJob follows one child; JobRegistry, one run at a time, abandoned runs).

Why a child process rather than a thread in the server:
- torch.set_num_threads is process-wide, so a thread could not train on one core without also
  slowing every other session's inference; the child sets its own thread count and a lower CPU
  priority (nice), leaving the server process and its sessions the rest of the machine;
- the child has its own GIL, so the Python parts of the training loop never stall the server;
- a crash (or running out of memory) in the child cannot take the server down.
"""
