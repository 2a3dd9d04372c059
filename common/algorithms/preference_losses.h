// The offline preference objectives in one include: DPO/IPO/cDPO/robust (dpo.h), KTO (kto.h),
// ORPO (orpo.h), SimPO/CPO (simpo.h), RRHF (rrhf.h), reward-model pairwise losses
// (reward_model_loss.h) and SFT (sft_loss.h).
#ifndef PLUMB_COMMON_ALGORITHMS_PREFERENCE_LOSSES_H_
#define PLUMB_COMMON_ALGORITHMS_PREFERENCE_LOSSES_H_

#include "common/algorithms/dpo.h"
#include "common/algorithms/kto.h"
#include "common/algorithms/orpo.h"
#include "common/algorithms/reward_model_loss.h"
#include "common/algorithms/rrhf.h"
#include "common/algorithms/sequence_logps.h"
#include "common/algorithms/sft_loss.h"
#include "common/algorithms/simpo.h"

#endif  // PLUMB_COMMON_ALGORITHMS_PREFERENCE_LOSSES_H_
