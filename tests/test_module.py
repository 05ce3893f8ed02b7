import torch

from sklearn_sharprecl._module import PrototypeHead, SharpReCLModule, pool_hidden_states


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
