import tempfile

from cog import BaseRunner, Input, Path
from PIL import Image, ImageFilter


class Runner(BaseRunner):
    def run(
        self,
        image: Path = Input(description="Image to blur", accept="image/*"),
        radius: float = Input(description="Blur radius in pixels", default=2.0, ge=0, le=100),
    ) -> Path:
        out = Path(tempfile.mkdtemp()) / "blurred.png"
        with Image.open(image) as img:
            img.filter(ImageFilter.GaussianBlur(radius)).save(out)
        return out
