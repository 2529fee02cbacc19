"""The lymphoid screen: suspected lymphoblasts among a slide's white cells,
learnt from smear fields labelled by their patient's diagnosis (weak labels)."""
