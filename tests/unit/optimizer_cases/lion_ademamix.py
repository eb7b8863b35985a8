"""bitsandbytes' 32-bit Lion (--optim lion_32bit) and AdEMAMix (--optim ademamix): defaults, each
setting the Python Trainer reads, weight decay (large enough that applying it after the step instead
of before would show), and AdEMAMix's alpha and beta3 schedules before, at and after their ends
(t_alpha, t_beta3 below the 6 steps; beta3 lowered so that the slow average weighs in)."""
CASES = [
    # Lion: betas from adam_beta1 and adam_beta2; no optim_args.
    {"name": "lion_32bit", "steps": 6,
     "args": {"optim": "lion_32bit", "learning_rate": 1e-3}},
    {"name": "lion_32bit_betas_weight_decay", "steps": 6,
     "args": {"optim": "lion_32bit", "learning_rate": 1e-2, "weight_decay": 0.5,
              "adam_beta1": 0.8, "adam_beta2": 0.95}},
    # AdEMAMix: beta1, beta2 and eps fall back to the adam_ arguments.
    {"name": "ademamix", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-3}},
    {"name": "ademamix_adam_arguments_weight_decay", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-2, "weight_decay": 0.5,
              "adam_beta1": 0.85, "adam_beta2": 0.99, "adam_epsilon": 1e-6}},
    {"name": "ademamix_optim_args", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-3, "weight_decay": 0.05,
              "adam_beta1": 0.5, "adam_beta2": 0.5, "adam_epsilon": 1e-3,
              "optim_args": "beta1=0.8,beta2=0.95,beta3=0.999,alpha=3.0,eps=1e-6"}},
    {"name": "ademamix_t_alpha", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-3, "optim_args": "beta3=0.99,t_alpha=4"}},
    {"name": "ademamix_t_beta3", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-3, "optim_args": "beta3=0.99,t_beta3=4"}},
    {"name": "ademamix_t_alpha_t_beta3", "steps": 6,
     "args": {"optim": "ademamix", "learning_rate": 1e-3, "weight_decay": 0.1,
              "optim_args": "alpha=8.0,beta3=0.995,t_alpha=3,t_beta3=5"}},
    # bitsandbytes takes a schedule of 0 steps as no schedule.
    {"name": "ademamix_t_alpha_zero", "steps": 3,
     "args": {"optim": "ademamix", "learning_rate": 1e-3, "optim_args": "t_alpha=0,t_beta3=0"}},
]
