-- An authentication provider for the simulator: accounts in the "accounts"
-- store, like mod_auth_internal_plain, without SASL. Provides what
-- core.usermanager calls on 0.12 and 13; on 13 also what 13's
-- mod_auth_internal_hashed adds (creation time, disabled accounts).
local accounts = module:open_store("accounts");
-- 13's usermanager has disable_user; 0.12's providers know no account info.
local is_13 = require "core.usermanager".disable_user ~= nil;

local provider = {};

function provider.test_password(username, password)
	local account = accounts:get(username);
	if account ~= nil and account.disabled then return nil, "Account disabled."; end
	return account ~= nil and account.password == password or nil;
end

function provider.get_password(username)
	local account = accounts:get(username);
	return account and account.password;
end

function provider.set_password(username, password)
	local account, err = accounts:get(username);
	if not account then return nil, err or "Account not available."; end
	account.password = password;
	return accounts:set(username, account);
end

function provider.user_exists(username)
	local account = accounts:get(username);
	return account ~= nil;
end

function provider.users()
	return accounts:users();
end

function provider.create_user(username, password)
	if not is_13 then return accounts:set(username, { password = password }); end
	local now = os.time();
	return accounts:set(username, { password = password, created = now, updated = now });
end

if is_13 then
	-- As mod_auth_internal_hashed in 13.
	function provider.get_account_info(username)
		local account = accounts:get(username);
		if not account then return nil, "Account not available"; end
		return { created = account.created, password_updated = account.updated, enabled = not account.disabled };
	end

	function provider.is_enabled(username)
		local info, err = provider.get_account_info(username);
		if not info then return nil, err; end
		return info.enabled;
	end

	local function set_disabled(username, disabled)
		local account = accounts:get(username);
		if not account then return nil, "Account not available"; end
		account.disabled = disabled or nil;
		return accounts:set(username, account);
	end

	function provider.enable(username) return set_disabled(username, false); end
	function provider.disable(username) return set_disabled(username, true); end
end

function provider.delete_user(username)
	return accounts:set(username, nil);
end

function provider.get_sasl_handler()
	return {};
end

module:provides("auth", provider);
