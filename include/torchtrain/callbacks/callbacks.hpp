// callbacks(...): the compile-time tuple of callback objects a Trainer takes.
#pragma once

#include <type_traits>

#include <boost/hana/tuple.hpp>

#include <torchtrain/callbacks/default_flow.hpp>
#include <torchtrain/callbacks/events.hpp>

namespace torchtrain {

/// Bundles callback objects for the Trainer: `tt::callbacks(EarlyStopping{...}, PrintLoss{})`.
/// Each callback is a plain struct defining only the hooks it needs (see event::).
template <class... Callbacks>
auto callbacks(Callbacks... each) {
  return boost::hana::make_tuple(std::move(each)...);
}

}  // namespace torchtrain
