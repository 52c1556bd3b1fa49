from cog import Input


def predict(text: str = Input(description="Text"), times: int = 1) -> str:
    return text * times
