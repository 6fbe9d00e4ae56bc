"""Ways to run Ponder's API other than ``ponder serve``, for deployments that scale out.

    ray.py      Ray Serve: ``serve run ponder.deploy.ray:app`` (needs ``pip install "ray[serve]"``)

The container image, the Compose file and the Kubernetes manifests live in ``deploy/`` at the top of the
repository, and ``docs/deploy.md`` tells how to use them. Nothing here is imported by Ponder itself, and
nothing here installs or runs a model engine: engines (vLLM, SGLang, llama.cpp's server, Ray Serve LLM)
are servers of their own that Ponder reaches through an ``openai:`` model spec.
"""
