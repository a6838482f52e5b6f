// Marks one entry into an object's callbacks for its duration and runs the object's hook when
// the outermost entry returns: state lent to the object goes back only then, when no caller
// up the stack can still hold a reference into it.
#pragma once

namespace ringway::base {

// Owner keeps the nesting depth in `int Owner::*kDepth` and is told by
// `void (Owner::*kOnOutermostReturn)()`. Usage, as the first line of every entry point:
//   Entered entered(*this);   with   using Entered = CallbackScope<X, &X::depth_, &X::hook>;
template <class Owner, int Owner::*kDepth, void (Owner::*kOnOutermostReturn)()>
class CallbackScope {
 public:
  explicit CallbackScope(Owner& owner) : owner_(owner) { ++(owner_.*kDepth); }
  ~CallbackScope() {
    if (--(owner_.*kDepth) == 0) (owner_.*kOnOutermostReturn)();
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  Owner& owner_;
};

}  // namespace ringway::base
