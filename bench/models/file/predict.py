import shutil
import tempfile

from cog import BaseRunner, Path


class Runner(BaseRunner):
    def run(self, data: Path) -> Path:
        out = Path(tempfile.mkdtemp()) / "out.bin"
        shutil.copyfile(data, out)
        return out
