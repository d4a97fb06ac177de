"""One BLAS thread for the command line (imported before numpy, for its side effect).

Coding makes many small matrix products, for which a second BLAS thread only spins:
measured with two files coded at a time, OpenBLAS's default of one thread per core made
each about 2x slower. Results do not depend on it (exact arithmetic). A value the user
set wins.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
