"""The torch network and its training.

The SharpReCL module (encoder, classifier, projection and prototype heads), its
criterion and losses, the balanced synthetic sets, the skorch net and its
callbacks, partial fine-tuning, int8 quantization, seeding and the device and
precision of a fit. Nothing is imported here: each module is imported by name.
"""
