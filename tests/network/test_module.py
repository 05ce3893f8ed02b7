import numpy as np
import torch
from transformers import AutoTokenizer, BertModel

from conftest import sharp_loss
from sklearn_sharprecl._network.module import PrototypeHead, SharpReCLModule, pool_hidden_states


def test_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(pool_hidden_states(hidden, mask, "mean"), torch.tensor([[2.0, 2.0]]))
    torch.testing.assert_close(pool_hidden_states(hidden, mask, "cls"), torch.tensor([[1.0, 1.0]]))


def test_prototypes_are_one_normalised_vector_per_class():
    head = PrototypeHead(in_features=8, out_features=5)
    protos = head(torch.randn(3, 8))
    assert protos.shape == (3, 5)
    torch.testing.assert_close(protos.norm(dim=1), torch.ones(3))


def test_module_outputs(tiny_encoder):
    module = SharpReCLModule(tiny_encoder, n_classes=4, proj_dim=6)
    ids = torch.tensor([[2, 7, 8, 3], [2, 9, 3, 0]])
    # Training mode: the prototypes come out of forward (one pass for DDP).
    *_, protos = module(ids, (ids != 0).long())
    torch.testing.assert_close(protos, module.prototypes())
    module.eval()
    logits, emb, feats = module(ids, (ids != 0).long())
    assert logits.shape == (2, 4) and emb.shape == (2, 6) and feats.shape == (2, 32)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
    assert module.prototypes().shape == (4, 6)
    # Prototypes are a function of the classifier weights: they move with them.
    before = module.prototypes().detach().clone()
    with torch.no_grad():
        module.classifier.weight.add_(1.0)
    assert not torch.allclose(before, module.prototypes())


def test_every_parameter_gets_a_gradient_in_a_training_step(tiny_encoder):
    """DistributedDataParallel needs it: the unused BERT pooler is dropped on load."""
    
    module = SharpReCLModule(tiny_encoder, n_classes=3).train()
    assert module.encoder.pooler is None
    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    texts = ["the refund is late", "what is the account", "security"]
    batch = tok(texts * 2, padding=True, return_tensors="pt")  # two views, view-major
    logits, emb, _, prototypes = module(batch["input_ids"], batch["attention_mask"])
    y = torch.tensor([0, 1, 2])
    loss = sharp_loss(np.array([5, 3, 2]), n_pos=2, n_neg=4)(logits, emb, prototypes, y)["loss"]
    loss.backward()
    missing = [n for n, p in module.named_parameters() if p.grad is None]
    assert missing == []


def test_a_user_supplied_encoder_is_not_modified(tiny_encoder):
    encoder = BertModel.from_pretrained(tiny_encoder)
    SharpReCLModule(encoder, n_classes=3)
    assert encoder.pooler is not None
