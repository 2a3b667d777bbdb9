"""About tab: the three stacked GANs, in a paragraph each."""
import gradio as gr

from demo.tabs import Context, Tab

ABOUT = """
### Stacked GANs

**StackGAN** ([Zhang et al., ICCV 2017](https://arxiv.org/abs/1612.03242)) turns a sentence into an image in two
stages. Conditioning augmentation samples the text condition from a Gaussian around the sentence embedding, which
smooths the condition space and adds variety. Stage-I draws a rough low-resolution sketch of shape and colour;
Stage-II reads that sketch *and the text again* and adds the detail the sketch missed.

**SGAN** ([Huang et al., CVPR 2017](https://arxiv.org/abs/1612.04357)) stacks GANs top-down to invert a pretrained
bottom-up classifier: each generator produces the representation of the level below, guided by representation
discriminators, a conditional loss and an entropy loss that keeps the noise from being ignored.

**S²-GAN** ([Wang & Gupta, ECCV 2016](https://arxiv.org/abs/1603.05631)) factorises image generation into
*structure* (surface normals) and *style* (appearance rendered on that structure).

**Exploring stacked GANs** (Deshmukh, Franz & Tu) compares one GAN with a two-stage stack and with the same stack
trained end to end, for dense, convolutional and deep-convolutional layers.

This demo runs the models trained by this project, offline, on a CPU: StackGAN on its procedurally rendered
`shapes` dataset, SGAN on real MNIST digits (`mnist5k`) and on `shapes`, S²-GAN and the stacked study on `shapes`,
each in its own tab, which says how good its models are: each model's table row and its health checks on the
validation split, read from `results/`. The Results tab shows the project's multi-seed reruns of the papers'
ablation tables, judged under the project's rules of evidence: a verdict that rests on a model failing its health
checks is reported as *not testable*.
"""


def build(ctx: Context) -> None:
    with gr.Tab("About"):
        gr.Markdown(ABOUT)


TAB = Tab("About", build, order=100)
